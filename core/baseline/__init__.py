"""Classical acoustic baselines for the outcome model, compared with a CNN run on its own folds.

``models``: sklearn Pipelines with nested cross-validation; ``delong``: DeLong's paired
AUROC test; ``compare``: single-measure ROC and the paired comparison; ``dose``: regression
of the injected amount; ``comparison``: everything against a run folder.
"""

from core.baseline.compare import feature_roc, paired_comparison
from core.baseline.comparison import (
    BASELINE_DIR,
    BaselineComparison,
    compare_models,
    compare_with_run,
    load_comparison,
    patient_features,
    run_folds,
    write_comparison,
)
from core.baseline.delong import DeLongResult, delong_covariance, delong_test, structural_components
from core.baseline.dose import DoseResult, dose_regression, injected_amounts
from core.baseline.models import (
    FEATURE_SETS,
    MODELS,
    BaselineConfig,
    ModelResult,
    baseline_pipeline,
    cross_validate_model,
    outer_folds,
)

__all__ = [
    "BASELINE_DIR",
    "FEATURE_SETS",
    "MODELS",
    "BaselineComparison",
    "BaselineConfig",
    "DeLongResult",
    "DoseResult",
    "ModelResult",
    "compare_models",
    "compare_with_run",
    "cross_validate_model",
    "delong_covariance",
    "delong_test",
    "dose_regression",
    "feature_roc",
    "injected_amounts",
    "load_comparison",
    "baseline_pipeline",
    "outer_folds",
    "paired_comparison",
    "patient_features",
    "run_folds",
    "structural_components",
    "write_comparison",
]
