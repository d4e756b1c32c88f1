"""Voice Outcome Explorer core library.

Data flows one way: files → cohort tables → segments → spectrogram arrays → folds →
models → predictions → metrics/explanations → run store → pages.
"""

from core.errors import (
    AudioError,
    CohortError,
    ConfigError,
    CoreError,
    DatasetError,
    ExplainError,
    RunError,
    TrainingError,
)

__version__ = "0.1.0"

__all__ = [
    "AudioError",
    "CohortError",
    "ConfigError",
    "CoreError",
    "DatasetError",
    "ExplainError",
    "RunError",
    "TrainingError",
    "__version__",
]
