"""openSMILE eGeMAPSv02 functionals: the field's standard acoustic parameter set.

eGeMAPS (Eyben et al., IEEE Trans. Affective Computing 2016) is the minimalistic parameter
set the voice and affective-computing literature reports against: 88 functionals of F0,
jitter, shimmer, HNR, loudness, formants, spectral slopes, alpha ratio, Hammarberg index,
MFCC 1-4 and voiced/unvoiced segment lengths. It is computed by the ``opensmile`` package
(the openSMILE 3 binary ships inside the wheel; it runs offline) on the recording's
analysis span at the file's own sample rate, so 8 kHz telephone audio is not upsampled.

openSMILE's native library crashes the whole process (segmentation fault) when
TensorFlow is loaded in the same process, as it is in the dashboard and in training.
When TensorFlow is loaded, the extraction therefore runs in one separate worker
process started with ``spawn`` (a fresh interpreter without TensorFlow), kept for later
calls; otherwise (the CLI's baseline and its forked workers) it runs in-process.
"""

from __future__ import annotations

import atexit
import functools
import math
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from core.errors import CoreError
from core.worker_pools import plain_main, process_pool, tensorflow_loaded

#: The 88 functionals, in openSMILE's order (``opensmile.Smile(...).feature_names``).
EGEMAPS_KEYS: tuple[str, ...] = (
    "F0semitoneFrom27.5Hz_sma3nz_amean",
    "F0semitoneFrom27.5Hz_sma3nz_stddevNorm",
    "F0semitoneFrom27.5Hz_sma3nz_percentile20.0",
    "F0semitoneFrom27.5Hz_sma3nz_percentile50.0",
    "F0semitoneFrom27.5Hz_sma3nz_percentile80.0",
    "F0semitoneFrom27.5Hz_sma3nz_pctlrange0-2",
    "F0semitoneFrom27.5Hz_sma3nz_meanRisingSlope",
    "F0semitoneFrom27.5Hz_sma3nz_stddevRisingSlope",
    "F0semitoneFrom27.5Hz_sma3nz_meanFallingSlope",
    "F0semitoneFrom27.5Hz_sma3nz_stddevFallingSlope",
    "loudness_sma3_amean",
    "loudness_sma3_stddevNorm",
    "loudness_sma3_percentile20.0",
    "loudness_sma3_percentile50.0",
    "loudness_sma3_percentile80.0",
    "loudness_sma3_pctlrange0-2",
    "loudness_sma3_meanRisingSlope",
    "loudness_sma3_stddevRisingSlope",
    "loudness_sma3_meanFallingSlope",
    "loudness_sma3_stddevFallingSlope",
    "spectralFlux_sma3_amean",
    "spectralFlux_sma3_stddevNorm",
    "mfcc1_sma3_amean",
    "mfcc1_sma3_stddevNorm",
    "mfcc2_sma3_amean",
    "mfcc2_sma3_stddevNorm",
    "mfcc3_sma3_amean",
    "mfcc3_sma3_stddevNorm",
    "mfcc4_sma3_amean",
    "mfcc4_sma3_stddevNorm",
    "jitterLocal_sma3nz_amean",
    "jitterLocal_sma3nz_stddevNorm",
    "shimmerLocaldB_sma3nz_amean",
    "shimmerLocaldB_sma3nz_stddevNorm",
    "HNRdBACF_sma3nz_amean",
    "HNRdBACF_sma3nz_stddevNorm",
    "logRelF0-H1-H2_sma3nz_amean",
    "logRelF0-H1-H2_sma3nz_stddevNorm",
    "logRelF0-H1-A3_sma3nz_amean",
    "logRelF0-H1-A3_sma3nz_stddevNorm",
    "F1frequency_sma3nz_amean",
    "F1frequency_sma3nz_stddevNorm",
    "F1bandwidth_sma3nz_amean",
    "F1bandwidth_sma3nz_stddevNorm",
    "F1amplitudeLogRelF0_sma3nz_amean",
    "F1amplitudeLogRelF0_sma3nz_stddevNorm",
    "F2frequency_sma3nz_amean",
    "F2frequency_sma3nz_stddevNorm",
    "F2bandwidth_sma3nz_amean",
    "F2bandwidth_sma3nz_stddevNorm",
    "F2amplitudeLogRelF0_sma3nz_amean",
    "F2amplitudeLogRelF0_sma3nz_stddevNorm",
    "F3frequency_sma3nz_amean",
    "F3frequency_sma3nz_stddevNorm",
    "F3bandwidth_sma3nz_amean",
    "F3bandwidth_sma3nz_stddevNorm",
    "F3amplitudeLogRelF0_sma3nz_amean",
    "F3amplitudeLogRelF0_sma3nz_stddevNorm",
    "alphaRatioV_sma3nz_amean",
    "alphaRatioV_sma3nz_stddevNorm",
    "hammarbergIndexV_sma3nz_amean",
    "hammarbergIndexV_sma3nz_stddevNorm",
    "slopeV0-500_sma3nz_amean",
    "slopeV0-500_sma3nz_stddevNorm",
    "slopeV500-1500_sma3nz_amean",
    "slopeV500-1500_sma3nz_stddevNorm",
    "spectralFluxV_sma3nz_amean",
    "spectralFluxV_sma3nz_stddevNorm",
    "mfcc1V_sma3nz_amean",
    "mfcc1V_sma3nz_stddevNorm",
    "mfcc2V_sma3nz_amean",
    "mfcc2V_sma3nz_stddevNorm",
    "mfcc3V_sma3nz_amean",
    "mfcc3V_sma3nz_stddevNorm",
    "mfcc4V_sma3nz_amean",
    "mfcc4V_sma3nz_stddevNorm",
    "alphaRatioUV_sma3nz_amean",
    "hammarbergIndexUV_sma3nz_amean",
    "slopeUV0-500_sma3nz_amean",
    "slopeUV500-1500_sma3nz_amean",
    "spectralFluxUV_sma3nz_amean",
    "loudnessPeaksPerSec",
    "VoicedSegmentsPerSec",
    "MeanVoicedSegmentLengthSec",
    "StddevVoicedSegmentLengthSec",
    "MeanUnvoicedSegmentLength",
    "StddevUnvoicedSegmentLength",
    "equivalentSoundLevel_dBp",
)

#: Shortest span openSMILE is asked to analyse (its 60 ms pitch frames need a few frames).
MIN_SECONDS: float = 0.25


@functools.lru_cache(maxsize=1)
def _smile() -> Any:
    import opensmile

    return opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals
    )


def _extract(samples: np.ndarray, sr: int) -> dict[str, float]:
    """In the worker process: openSMILE on one span."""
    row = _smile().process_signal(samples, sr).iloc[0]
    return {key: float(row[key]) for key in EGEMAPS_KEYS}


_WORKER: ProcessPoolExecutor | None = None
_WORKER_LOCK = threading.Lock()


def _worker() -> ProcessPoolExecutor:
    """The one openSMILE worker process of this process, started on first use."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None:
            _WORKER = process_pool(1, spawn=True)
            atexit.register(_WORKER.shutdown, wait=False, cancel_futures=True)
        return _WORKER


def egemaps_features(samples: np.ndarray, *, sr: int) -> dict[str, float]:
    """eGeMAPSv02 functionals of one mono span (in a worker process when TensorFlow is loaded).

    Parameters
    ----------
    samples : np.ndarray [shape=(n,)]
        The analysis span at the file's own rate.
    sr : int
        Its sample rate in Hz.

    Returns
    -------
    features : dict
        :data:`EGEMAPS_KEYS` → value; all NaN for a span shorter than :data:`MIN_SECONDS`.

    Raises
    ------
    CoreError
        When the openSMILE worker process died on this span.
    """
    global _WORKER
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1 or samples.shape[0] < MIN_SECONDS * sr:
        return dict.fromkeys(EGEMAPS_KEYS, math.nan)
    if not tensorflow_loaded():
        return _extract(samples, int(sr))
    try:
        with plain_main():  # the worker process starts on its first submit
            future = _worker().submit(_extract, samples, int(sr))
        return future.result()
    except BrokenProcessPool:
        with _WORKER_LOCK:
            _WORKER = None  # the next call starts a fresh worker
        raise CoreError(
            f"openSMILE stopped while analysing a span of {samples.shape[0] / sr:.2f} s at {sr} Hz"
        ) from None


__all__ = ["EGEMAPS_KEYS", "MIN_SECONDS", "egemaps_features"]
