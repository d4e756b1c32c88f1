"""Praat "Voice report" text for a recording, as a clinician saves it from the Sound editor.

The body is Praat's own ``Voice report`` (via parselmouth) on the editor's selection; the
header lines are the ones Praat's editor writes before it (``-- Voice report for …``,
``Date:``, the pitch-method warning and ``Time range of SELECTION``). The editor's default
pitch method is autocorrelation, for which Praat prints its imprecision warning; it is
also ~20× cheaper than cross-correlation at 44.1/48 kHz, which keeps the demo fast.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import parselmouth
from parselmouth.praat import call

#: Praat's standard voice-analysis settings (pitch floor/ceiling in Hz, period and amplitude
#: factors, silence and voicing thresholds), as in the Sound editor.
PITCH_FLOOR_HZ = 75.0
PITCH_CEILING_HZ = 600.0
MAX_PERIOD_FACTOR = 1.3
MAX_AMPLITUDE_FACTOR = 1.6
SILENCE_THRESHOLD = 0.03
VOICING_THRESHOLD = 0.45

#: Analysis context kept around the selection so pitch frames at its edges are complete.
_CONTEXT_S = 0.1

_AC_WARNING = (
    "WARNING: some of the following measurements may be imprecise.\n"
    'For more precision, go to "Pitch settings" and choose "Optimize for voice analysis".\n'
)


def voice_report(
    samples: np.ndarray,
    *,
    sample_rate: int,
    name: str,
    selection: tuple[float, float],
    when: datetime,
    object_number: int = 1,
) -> str:
    """Praat's voice report for a selection of a 16-bit recording.

    Parameters
    ----------
    samples : np.ndarray [shape=(n,), dtype=int16]
        The recording as written to disk.
    sample_rate : int
        Hz.
    name : str
        Sound name shown in the header (the file stem, as Praat names a read file).
    selection : tuple of float
        Start and end of the analysed selection, in seconds from the file start.
    when : datetime
        Time printed on the ``Date:`` line.
    object_number : int
        Object-list number shown in the header.

    Returns
    -------
    text : str
        The report; measures Praat cannot compute (no voicing) read ``--undefined--``.
    """
    sound = parselmouth.Sound(samples.astype(np.float64) / 32768.0, sampling_frequency=sample_rate)
    start, end = selection
    context = sound.extract_part(
        from_time=max(0.0, start - _CONTEXT_S),
        to_time=min(sound.duration, end + _CONTEXT_S),
        preserve_times=True,
    )
    pitch = call(
        context,
        "To Pitch (ac)",
        0.0,
        PITCH_FLOOR_HZ,
        15,
        "no",
        SILENCE_THRESHOLD,
        VOICING_THRESHOLD,
        0.01,
        0.35,
        0.14,
        PITCH_CEILING_HZ,
    )
    pulses = call([context, pitch], "To PointProcess (cc)")
    body = call(
        [context, pitch, pulses],
        "Voice report",
        start,
        end,
        PITCH_FLOOR_HZ,
        PITCH_CEILING_HZ,
        MAX_PERIOD_FACTOR,
        MAX_AMPLITUDE_FACTOR,
        SILENCE_THRESHOLD,
        VOICING_THRESHOLD,
    )
    header = f"-- Voice report for {object_number}. Sound {name} --\nDate: {when.ctime()}\n\n{_AC_WARNING}\n"
    return f"{header}Time range of SELECTION\n{body.rstrip()}\n"
