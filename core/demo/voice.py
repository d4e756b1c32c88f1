"""Synthetic sustained vowels: a jittered glottal pulse train through a vowel formant filter.

One recording is a pure function of its :class:`VoiceParams` and a random generator, so the
same seed always gives the same samples whichever process computes them. Severity (0 healthy,
1 severe glottal insufficiency) sets every quality cue at once; see :func:`quality_for`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr
from scipy import signal

#: Formant frequencies (Hz) of an adult male vocal tract per vowel number 1..4 = A, I, U, E
#: (Peterson & Barney 1952, F1..F4); female tracts are scaled up by ``FEMALE_TRACT_SCALE``.
FORMANTS_HZ: dict[int, tuple[float, ...]] = {
    1: (730.0, 1090.0, 2440.0, 3400.0),
    2: (270.0, 2290.0, 3010.0, 3600.0),
    3: (300.0, 870.0, 2240.0, 3300.0),
    4: (530.0, 1840.0, 2480.0, 3500.0),
}
#: Neutral-tube F5..F8 shared by all vowels.
HIGHER_FORMANTS_HZ: tuple[float, ...] = (4500.0, 5500.0, 6500.0, 7500.0)
FORMANT_BANDWIDTHS_HZ: tuple[float, ...] = (80.0, 100.0, 130.0, 180.0, 250.0, 300.0, 400.0, 500.0)
FEMALE_TRACT_SCALE = 1.17

#: Rate (Hz) at which phonations are synthesised before resampling to the file's rate.
VOICE_RATE = 16_000

#: Vowel-intrinsic f0: close vowels /i/, /u/ are produced slightly higher than open /a/.
VOWEL_F0_FACTOR: dict[int, float] = {1: 0.98, 2: 1.04, 3: 1.04, 4: 1.0}


@dataclass(frozen=True)
class VoiceQuality:
    """Acoustic settings of one phonation, all derived from a severity.

    Attributes
    ----------
    jitter : float
        Standard deviation of the relative cycle-to-cycle period perturbation.
    shimmer : float
        Standard deviation of the per-cycle log amplitude.
    hnr_db : float
        Harmonic-to-aspiration-noise power ratio after the vocal tract, in dB.
    open_quotient : float
        Fraction of each cycle the glottis is open (breathy voices stay open longer).
    closing_fraction : float
        Share of the open phase spent closing; a slow closure means a steep spectral tilt.
    tilt_hz : float
        Corner of an extra one-pole low-pass on the voiced source (steeper tilt when low).
    bandwidth_factor : float
        Formant bandwidths are multiplied by this (glottal leakage damps the resonances).
    break_rate_hz : float
        Expected voice breaks (short unvoiced gaps) per second.
    diplophonia : float
        Relative amplitude alternation of consecutive cycles.
    tremor : float
        Depth of the 4–6 Hz f0 modulation, relative.
    """

    jitter: float
    shimmer: float
    hnr_db: float
    open_quotient: float
    closing_fraction: float
    tilt_hz: float
    bandwidth_factor: float
    break_rate_hz: float
    diplophonia: float
    tremor: float


def quality_for(severity: float) -> VoiceQuality:
    """Map a severity in [0, 1] to the acoustic settings of a phonation.

    Every cue worsens monotonically from severity 0 to 1: period s.d. 0.25 → 3.25 %,
    log-amplitude s.d. 2 → 16 %, HNR 26 → 4 dB, open quotient 0.45 → 0.8, source corner
    5 kHz → 0.7 kHz, bandwidths ×1 → ×2, tremor 0.4 → 2.4 %; voice breaks and diplophonia
    only above severity 0.6. Praat on the written files reads local jitter 0.15 / 0.79 /
    2.4 %, local shimmer 2.6 / 11 / 19 % and HNR 26 / 13.7 / 5.5 dB at severity 0 / 0.5 / 0.9.
    """
    s = float(np.clip(severity, 0.0, 1.0))
    return VoiceQuality(
        jitter=0.0025 + 0.03 * s**1.5,
        shimmer=0.02 + 0.14 * s,
        hnr_db=26.0 - 22.0 * s,
        open_quotient=0.45 + 0.35 * s,
        closing_fraction=0.3 + 0.25 * s,
        tilt_hz=5000.0 * float(np.exp(-2.0 * s)),
        bandwidth_factor=1.0 + 1.0 * s,
        break_rate_hz=1.2 * max(0.0, s - 0.6) / 0.4,
        diplophonia=0.12 * max(0.0, s - 0.6) / 0.4,
        tremor=0.004 + 0.02 * s,
    )


@dataclass(frozen=True)
class VoiceParams:
    """Everything that defines one recording.

    Attributes
    ----------
    sample_rate : int
        Rate of the written file in Hz.
    vowel : int
        1..4 = A, I, U, E.
    female : bool
        Female vocal tract (higher formants).
    f0_hz : float
        Mean fundamental frequency of this phonation.
    tract_scale : float
        Speaker's formant scale around the sex norm (about 0.95..1.05).
    severity : float
        0 (healthy) .. 1 (severe); see :func:`quality_for`.
    duration_s : float
        Length of the whole file in seconds.
    lead_s, trail_s : float
        Silence (room noise) before and after the phonation, which fills the rest.
    peak : float
        Peak level of the written file, 0..1 of full scale.
    """

    sample_rate: int
    vowel: int
    female: bool
    f0_hz: float
    tract_scale: float
    severity: float
    duration_s: float
    lead_s: float
    trail_s: float
    peak: float


def synthesize(params: VoiceParams, *, rng: np.random.Generator) -> np.ndarray:
    """Synthesise one recording: silence, sustained vowel, silence.

    The phonation is made at :data:`VOICE_RATE` and resampled to the file's rate (as a
    recorder with an 8 kHz voice band would), so every file has the same 0–8 kHz spectrum
    whatever its rate; the room noise is made at the file's rate.

    Parameters
    ----------
    params : VoiceParams
        The recording's settings.
    rng : np.random.Generator
        Source of every random draw (its state is consumed).

    Returns
    -------
    y : np.ndarray [shape=(round(duration_s * sample_rate),), dtype=int16]
        16-bit PCM samples, peak at ``params.peak`` of full scale.
    """
    sr = params.sample_rate
    n_total = int(round(params.duration_s * sr))
    lead = int(round(params.lead_s * sr))
    n_voiced = n_total - lead - int(round(params.trail_s * sr))
    phonation = _phonation(params, n=int(round(n_voiced * VOICE_RATE / sr)), rng=rng)
    if sr != VOICE_RATE:
        phonation = soxr.resample(phonation, VOICE_RATE, sr, quality="HQ")
    phonation = np.pad(phonation[:n_voiced], (0, max(0, n_voiced - phonation.size)))
    y = _room_noise(n_total, sr=sr, rng=rng)
    y *= np.float32(np.sqrt(_power(phonation)) * 10 ** (-rng.uniform(52, 62) / 20))
    y[lead : lead + n_voiced] += phonation
    y *= np.float32(params.peak * 32767 / max(float(np.max(np.abs(y))), 1e-12))
    return np.round(y).astype(np.int16)


def _phonation(params: VoiceParams, *, n: int, rng: np.random.Generator) -> np.ndarray:
    """The sustained vowel alone at :data:`VOICE_RATE`, peak 1.

    Returns
    -------
    phonation : np.ndarray [shape=(n,), dtype=float32]
    """
    sr = VOICE_RATE
    quality = quality_for(params.severity)
    starts = _cycle_starts(n / sr, f0_hz=params.f0_hz, quality=quality, rng=rng)
    flow = _glottal_flow(starts, n=n, sr=sr, quality=quality, rng=rng)
    # The flow derivative is the source: it includes the lip radiation.
    voiced = signal.lfilter(*_one_pole_lowpass(quality.tilt_hz, sr), np.diff(flow, prepend=np.float32(0)))
    voiced = voiced.astype(np.float32, copy=False)
    voiced *= _break_gate(n, sr=sr, rate_hz=quality.break_rate_hz, rng=rng)
    # Turbulence is strongest while the glottis is open, so the noise pulses with the flow.
    openness = flow * np.float32(0.65 / max(float(np.max(flow)), 1e-12)) + np.float32(0.35)
    aspiration = rng.standard_normal(n, dtype=np.float32) * openness
    tract = _vocal_tract(params, quality)
    voiced, aspiration = signal.sosfilt(tract, np.stack([voiced, aspiration]), axis=-1)
    noise_gain = np.sqrt(_power(voiced) / max(_power(aspiration), 1e-20) * 10 ** (-quality.hnr_db / 10))
    phonation = voiced + np.float32(noise_gain) * aspiration
    phonation *= _amplitude_envelope(n, sr=sr, rng=rng)
    return phonation * np.float32(1.0 / max(float(np.max(np.abs(phonation))), 1e-12))


def _power(x: np.ndarray) -> float:
    return float(np.dot(x, x)) / x.size if x.size else 0.0


#: Rate (Hz) of the control grid on which the slow f0 contour is computed.
_CONTROL_HZ = 1000


def _cycle_starts(
    duration_s: float, *, f0_hz: float, quality: VoiceQuality, rng: np.random.Generator
) -> np.ndarray:
    """Start times (s) of the glottal cycles: slow drift and tremor, then per-cycle jitter.

    Returns
    -------
    starts : np.ndarray [shape=(n_cycles + 1,)]
        Increasing times from 0; the last one lies past ``duration_s``.
    """
    t = np.arange(int(np.ceil(duration_s * _CONTROL_HZ)) + 2) / _CONTROL_HZ
    contour = np.ones_like(t)
    for _ in range(2):
        contour += rng.uniform(0.004, 0.012) * np.sin(
            2 * np.pi * rng.uniform(0.1, 0.6) * t + rng.uniform(0, 2 * np.pi)
        )
    contour += quality.tremor * np.sin(2 * np.pi * rng.uniform(4.0, 6.0) * t + rng.uniform(0, 2 * np.pi))
    phase = np.concatenate([[0.0], np.cumsum(f0_hz * contour[:-1]) / _CONTROL_HZ])
    n_cycles = int(np.ceil(phase[-1] * 1.1)) + 4
    # Nominal periods follow the contour; jitter then perturbs each period on its own.
    k = np.arange(n_cycles + 1, dtype=float)
    nominal = np.where(k <= phase[-1], np.interp(k, phase, t), t[-1] + (k - phase[-1]) / f0_hz)
    periods = np.diff(nominal) * (1.0 + quality.jitter * rng.standard_normal(n_cycles))
    return np.concatenate([[0.0], np.cumsum(np.maximum(periods, 0.5 / f0_hz))])


#: Samples in the tabulated glottal pulse (indexing it is cheaper than evaluating cosines).
_PULSE_TABLE = 4096


def _glottal_flow(
    starts: np.ndarray, *, n: int, sr: int, quality: VoiceQuality, rng: np.random.Generator
) -> np.ndarray:
    """Rosenberg glottal flow pulses with shimmer and diplophonia on given cycle starts.

    Returns
    -------
    flow : np.ndarray [shape=(n,), dtype=float32]
        Glottal volume velocity, >= 0.
    """
    first = np.ceil(starts * sr).astype(np.int64)
    first = np.minimum(first, n)
    counts = np.diff(first)
    cycle = np.repeat(np.arange(counts.size), counts)
    within = (np.arange(n) / sr - starts[cycle]) / np.diff(starts)[cycle]
    index = np.minimum((within * _PULSE_TABLE).astype(np.int64), _PULSE_TABLE - 1)
    amplitude = np.exp(quality.shimmer * rng.standard_normal(counts.size))
    amplitude *= 1.0 + quality.diplophonia * np.where(np.arange(counts.size) % 2 == 0, 1.0, -1.0)
    return _pulse_table(quality)[index] * amplitude.astype(np.float32)[cycle]


def _pulse_table(quality: VoiceQuality) -> np.ndarray:
    """One Rosenberg pulse over a cycle, tabulated.

    Returns
    -------
    pulse : np.ndarray [shape=(_PULSE_TABLE,), dtype=float32]
    """
    phi = np.arange(_PULSE_TABLE) / _PULSE_TABLE
    opening = quality.open_quotient * (1.0 - quality.closing_fraction)
    closing = quality.open_quotient * quality.closing_fraction
    pulse = np.where(
        phi < opening,
        0.5 * (1.0 - np.cos(np.pi * phi / opening)),
        np.where(phi < opening + closing, np.cos(0.5 * np.pi * (phi - opening) / closing), 0.0),
    )
    return pulse.astype(np.float32)


def _break_gate(n: int, *, sr: int, rate_hz: float, rng: np.random.Generator) -> np.ndarray | float:
    """Gate that silences the voiced source for 40–160 ms at a few random instants.

    Returns
    -------
    gate : np.ndarray [shape=(n,), dtype=float32] or float
        0 inside breaks with 5 ms ramps, 1 elsewhere; the scalar 1.0 when there is no break.
    """
    count = int(rng.poisson(rate_hz * n / sr)) if rate_hz > 0 else 0
    margin = int(0.05 * sr)
    if count == 0 or n <= 2 * margin + int(0.2 * sr):
        return 1.0
    gate = np.ones(n, dtype=np.float32)
    for _ in range(count):
        length = int(rng.uniform(0.04, 0.16) * sr)
        start = int(rng.integers(margin, max(margin + 1, n - margin - length)))
        gate[start : start + length] = 0.0
    ramp = max(1, int(0.005 * sr))
    return np.convolve(gate, np.full(ramp, 1.0 / ramp, dtype=np.float32), mode="same")


def _one_pole_lowpass(corner_hz: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    pole = float(np.exp(-2 * np.pi * min(corner_hz, 0.45 * sr) / sr))
    # float32 coefficients keep lfilter in single precision (2.5x faster, ample for audio).
    return np.array([1.0 - pole], dtype=np.float32), np.array([1.0, -pole], dtype=np.float32)


def _vocal_tract(params: VoiceParams, quality: VoiceQuality) -> np.ndarray:
    """Cascade of 2nd-order resonators (unit gain at 0 Hz) for F1..F8 below 0.48·sr, as SOS.

    F5..F8 sit where a neutral 17 cm tube puts them; without them the cascade falls far
    steeper above 4 kHz than real vowels do. Lip radiation is already in the source (the
    flow derivative), so there is no extra differentiator here.

    Returns
    -------
    sos : np.ndarray [shape=(n_sections, 6), dtype=float32]
    """
    sr = VOICE_RATE
    scale = params.tract_scale * (FEMALE_TRACT_SCALE if params.female else 1.0)
    freqs = [f * scale for f in FORMANTS_HZ[params.vowel] + HIGHER_FORMANTS_HZ]
    widths = [b * quality.bandwidth_factor for b in FORMANT_BANDWIDTHS_HZ]
    sections = []
    for freq, width in zip(freqs, widths, strict=True):
        if freq >= 0.48 * sr:
            continue
        r = np.exp(-np.pi * width / sr)
        a1, a2 = -2 * r * np.cos(2 * np.pi * freq / sr), r * r
        sections.append([1.0 + a1 + a2, 0.0, 0.0, 1.0, a1, a2])
    # Single precision: pole radii stay within 1e-7 of their design, far inside the unit circle.
    return np.asarray(sections, dtype=np.float32)


def _amplitude_envelope(n: int, *, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Raised-cosine fade in/out (15–40 ms) times a slow ±2–10 % loudness drift.

    Returns
    -------
    envelope : np.ndarray [shape=(n,), dtype=float32]
    """
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    depth, rate, offset = rng.uniform(0.02, 0.1), rng.uniform(0.2, 0.8), rng.uniform(0, 2 * np.pi)
    envelope = np.float32(1.0) + np.float32(depth) * np.sin(
        np.float32(2 * np.pi * rate) * t + np.float32(offset)
    )
    for side in (0, 1):
        fade = min(n // 3, int(rng.uniform(0.015, 0.04) * sr))
        ramp = (0.5 * (1.0 - np.cos(np.pi * np.arange(fade) / max(fade, 1)))).astype(np.float32)
        if side == 0:
            envelope[:fade] *= ramp
        else:
            envelope[n - fade :] *= ramp[::-1]
    return envelope


def _room_noise(n: int, *, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-power room noise, tilted towards low frequencies like ventilation hum.

    Returns
    -------
    noise : np.ndarray [shape=(n,), dtype=float32]
    """
    noise = signal.lfilter(*_one_pole_lowpass(400.0, sr), rng.standard_normal(n, dtype=np.float32))
    return noise * np.float32(1.0 / np.sqrt(max(_power(noise), 1e-20)))
