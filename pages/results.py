"""Results: the study's per-fold tables, confusion matrices, ROC, learning and calibration
curves for one run, and several runs side by side."""

from __future__ import annotations

import numpy as np
import plotly.express as px
import streamlit as st

from core import figures, results
from core.baseline.comparison import load_comparison
from core.cohort.classes import class_names, probability_label
from core.curves import curves_caption
from core.errors import CoreError
from core.headline import comparator_rule, headline, small_fold_warning
from core.runs import list_runs, load_run
from core.workspace import runs_dir
from pages.shared.baseline_job import baseline_launcher
from pages.shared.sidebar import pick_run, run_notices
from pages.shared.sweeps import sweep_results

st.title("Results")
run = pick_run()
if run is None:
    st.stop()
run_notices(run)
names = class_names(run)

level = st.segmented_control(
    "Level",
    ["patient", "segment"],
    default="patient",
    key="r_level",
    help="patient = mean of a patient's segment probabilities; segment = every 50 ms segment.",
)
level = level or "patient"

try:
    test_table = results.study_table(run, level=level, part="test")
    train_table = results.study_table(run, level=level, part="train")
except CoreError as exc:
    st.info(str(exc))
    st.stop()

st.subheader(f"Test ({level} level)")
st.dataframe(test_table, hide_index=True, width="stretch")
st.subheader(f"Train ({level} level)")
st.dataframe(train_table, hide_index=True, width="stretch")
numeric = results.per_fold(run, level=level, part="test")
st.download_button(
    "Download per-fold test metrics (CSV)",
    numeric.to_csv(index=False),
    f"{run.path.name}-{level}-test.csv",
    "text/csv",
)

stats = headline(run)
for column, stat in zip(st.columns(len(stats)), stats, strict=True):
    column.metric(stat.label, stat.value, help=stat.help)
warning = small_fold_warning(run, level=level)
if warning:
    st.warning(warning)

st.subheader("Confusion matrices")
thresholds = results.thresholds(run, level=level)
shift = st.slider(
    "Threshold shift from each fold's validation-chosen threshold",
    -0.5,
    0.5,
    0.0,
    0.01,
    key="r_shift",
    help="0 = the F1-best threshold chosen on each fold's validation patients, as the study did.",
)
cols = st.columns(min(5, len(thresholds)))
for i, row in thresholds.iterrows():
    threshold = float(np.clip(row["threshold"] + shift, 0.0, 1.0))
    counts = results.confusion(
        run, level=level, repeat=int(row["repeat"]), fold=int(row["fold"]), threshold=threshold
    )
    matrix = np.array([[counts["tn"], counts["fp"]], [counts["fn"], counts["tp"]]])
    fold = results.fold_label(
        int(row["repeat"]), int(row["fold"]), repeats=int(thresholds["repeat"].nunique())
    )
    fig = figures.confusion_matrix(matrix, names, title=f"{fold} · t={threshold:.2f}")
    cols[i % len(cols)].plotly_chart(fig, width="stretch", key=f"cm{i}")

left, right = st.columns(2)
with left:
    st.subheader("ROC (test)")
    fig = figures.roc_curves(results.roc_points(run, level=level))
    st.plotly_chart(fig, width="stretch")
with right:
    st.subheader("Calibration (test, pooled)")
    fig = figures.calibration(
        results.calibration_points(run, level=level),
        x_title=f"mean predicted {probability_label(names)}",
        y_title=f"observed share {names[1]}",
    )
    st.plotly_chart(fig, width="stretch")

st.subheader("Learning curves")
metric = st.segmented_control("Metric", ["loss", "acc", "auroc"], default="auroc", key="r_metric") or "auroc"
curves = results.learning_curves(run)
fig = figures.learning_curves(curves[curves["metric"] == metric], label=metric)
st.plotly_chart(fig, width="stretch")
st.caption(curves_caption(run.config.train.curves))

st.subheader("Compare runs")
others = list_runs(runs_dir())
others = others[others["folds_done"] > 0]
picked = st.multiselect("Runs", others["run_id"].tolist(), default=[run.path.name], key="r_compare")
if picked:
    table = results.compare_runs([load_run(r) for r in picked], level=level)
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption("_mean and _std: mean and population SD (ddof=0, as the study) over each run's test folds.")
    st.download_button("Download comparison (CSV)", table.to_csv(index=False), "compare.csv", "text/csv")
    bars = table.melt(
        id_vars=["run", "split"], value_vars=["acc_mean", "f1_mean", "auroc_mean"], var_name="metric"
    )
    fig = px.bar(
        bars, x="metric", y="value", color="run", barmode="group", hover_data=["split"], range_y=[0, 1]
    )
    fig.update_layout(height=320, margin=dict(t=10, b=10))
    st.plotly_chart(fig, width="stretch")

st.subheader("Does the CNN beat jitter, shimmer and HNR?")
comparison = load_comparison(run.path)
if comparison is None:
    baseline_launcher(run)
else:
    info = comparison.summary
    b1, b2, b3 = st.columns(3)
    b1.metric(
        "CNN patient AUROC",
        f"{info['cnn_patient_auroc_mean']:.3f}" if info.get("cnn_patient_auroc_mean") is not None else "n/a",
    )
    rule = comparator_rule(info)
    b2.metric(
        f"Baseline comparator ({info.get('best_model', '?')})",
        f"{info['patient_auroc_mean']:.3f}" if info.get("patient_auroc_mean") is not None else "n/a",
        help=rule,
    )
    b3.metric(
        "DeLong p (CNN vs comparator)",
        f"{info['delong_p']:.3f}" if info.get("delong_p") is not None else "n/a",
        help=rule,
    )
    st.caption(f"Comparator: {rule}.")
    st.dataframe(comparison.models, hide_index=True, width="stretch")
    st.markdown("**Single measures (ROC as clinical papers report them)**")
    st.dataframe(comparison.feature_roc, hide_index=True, width="stretch")
    if not comparison.importance.empty:
        top = (
            comparison.importance.sort_values("importance", key=abs, ascending=False).groupby("model").head(8)
        )
        fig = px.bar(
            top, x="importance", y="feature", color="model", orientation="h", error_x="importance_sd"
        )
        fig.update_layout(height=420, margin=dict(t=10, b=10))
        st.plotly_chart(fig, width="stretch")
    st.download_button(
        "Download baseline comparison (CSV)",
        comparison.models.to_csv(index=False),
        "baseline.csv",
        "text/csv",
    )

sweep_results(runs_dir())
