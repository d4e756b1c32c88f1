"""Classical acoustic measures per recording: Praat's voice report recomputed, CPP/CPPS
(``cepstral``), MFCC/spectral statistics (``spectral``), the cached per-recording table
(``table``) and the agreement of the cohort's Praat reports with the recomputation
(``agreement``).
"""

from core.acoustics.agreement import (
    Agreement,
    agreement_pairs,
    recording_agreement,
    report_agreement,
    report_values,
)
from core.acoustics.cepstral import CEPSTRAL_KEYS, CepstralSettings, cepstral_peak_prominence
from core.acoustics.spectral import SpectralSettings, spectral_keys, spectral_statistics
from core.acoustics.table import (
    FEATURE_GROUPS,
    AcousticSettings,
    group_keys,
    measure_recording,
    recording_features,
    recording_measures,
)

__all__ = [
    "CEPSTRAL_KEYS",
    "FEATURE_GROUPS",
    "AcousticSettings",
    "Agreement",
    "CepstralSettings",
    "SpectralSettings",
    "agreement_pairs",
    "cepstral_peak_prominence",
    "group_keys",
    "measure_recording",
    "recording_agreement",
    "recording_features",
    "recording_measures",
    "report_agreement",
    "report_values",
    "spectral_keys",
    "spectral_statistics",
]
