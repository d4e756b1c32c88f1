"""One root exception for the whole library, with a subclass per stage.

Every error raised on purpose by ``core`` derives from :class:`CoreError`, so callers
(the CLI, the pages) can catch one type and show its message, which always names the
offending file, value or setting and what was expected.
"""

from __future__ import annotations


class CoreError(Exception):
    """Root of every error raised on purpose by ``core``."""


class ConfigError(CoreError, ValueError):
    """A setting has a value outside what the stage accepts."""


class AudioError(CoreError):
    """A recording cannot be read or is unusable (empty, silent, NaN, not audio)."""


class CohortError(CoreError):
    """A cohort folder or metadata sheet cannot be read at all."""


class DatasetError(CoreError):
    """Segments or spectrogram arrays cannot be built from a cohort."""


class TrainingError(CoreError):
    """Training cannot start or continue (bad split, empty class, model failure)."""


class RunError(CoreError):
    """A run folder is missing, incomplete or cannot be written."""


class WeightsError(CoreError):
    """Backbone weights cannot be downloaded, verified or imported."""


class ExplainError(CoreError):
    """An explanation cannot be computed for the given model, run or segment."""
