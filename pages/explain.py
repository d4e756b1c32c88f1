"""Explain: pick a fold, a confusion cell and a segment; see where each branch looked,
what occluding bands and time chunks does, how much each branch matters, and which map
to believe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.express as px
import streamlit as st

from core.cohort.classes import class_names, label_text, probability_label
from core.errors import CoreError
from core.explain import EXPLAINERS, FoldExplainer, load_fold
from core.explain.cam_grid import common_grid
from core.explain.cases import confusion_cells
from core.explain.fold import fold_keys, model_key
from core.explain.masking_table import masking_overview
from core.explain.regions import region_words
from core.figures import cam_overlay, picked_segment, probability_strip, signed_map
from core.folds import fold_label, repeats_of
from core.segment_names import segment_names
from core.workspace import cache_dir
from pages.shared.sidebar import pick_run, run_notices

METHOD_NAMES = {
    "gradcam": "Grad-CAM",
    "gradcampp": "Grad-CAM++",
    "eigencam": "EigenCAM",
    "ablationcam": "AblationCAM",
    "saliency": "Gradient saliency",
    "smoothgrad": "SmoothGrad",
    "integrated_gradients": "Integrated Gradients",
    "occlusion": "Occlusion map",
}

st.title("Explain")
run = pick_run()
if run is None:
    st.stop()
run_notices(run)
names = class_names(run)
p_label = probability_label(names)


@st.cache_resource(max_entries=4, show_spinner=False)
def _explainer(run_dir: str, key: str, version: str, cache: str) -> FoldExplainer:
    """Fold ``key`` of the run at ``run_dir`` (``version`` names its model file), arrays from ``cache``."""
    return FoldExplainer(load_fold(run_dir, key, cache_dir=Path(cache)))


keys = fold_keys(run.path)
repeats = repeats_of(keys)
if st.session_state.get("e_run", run.path.name) != run.path.name:  # another run: other folds and segments
    for stale in ("e_fold", "e_segment", "e_clicked", "e_cell"):
        st.session_state.pop(stale, None)
st.session_state["e_run"] = run.path.name
if st.session_state.get("e_fold") not in keys:
    st.session_state.pop("e_fold", None)
c1, c2, c3 = st.columns([1, 1, 2])
key = c1.selectbox("Fold", keys, format_func=lambda k: fold_label(k, repeats=repeats), key="e_fold")
try:
    with st.spinner("Loading the fold's model and images…"):
        explainer = _explainer(str(run.path), key, model_key(run.path, key), str(cache_dir()))
except CoreError as exc:
    st.error(f"This fold cannot be explained: {exc}")
    st.stop()

cases = explainer.cases(k=10)
predictions = explainer.data.predictions
cells = confusion_cells(predictions, threshold=explainer.data.threshold)
cell_of = dict(zip(predictions["segment_id"].astype(int), cells, strict=True))
strip_box = st.expander(
    "Pick any test segment on the probability plot", expanded=True
)  # drawn below, once the segment is known
strip_key = f"e_strip_{key}"
clicked = picked_segment(
    st.session_state.get(strip_key)
)  # the plot's selection from the previous interaction
if clicked is None:
    st.session_state.pop("e_clicked", None)  # selection cleared: the same point may be picked again
if clicked is not None and clicked in cell_of and clicked != st.session_state.get("e_clicked"):
    st.session_state["e_clicked"] = clicked  # a new click: show its cell and select it once
    st.session_state["e_cell"] = cell_of[clicked]
    st.session_state["e_segment"] = clicked
st.session_state.setdefault("e_cell", "TP")
cell = c2.segmented_control("Confusion cell", ["TP", "TN", "FP", "FN"], key="e_cell") or "TP"
in_cell = cases[cases["cell"] == cell]
if in_cell["fallback"].any():
    c3.caption(
        f"No {cell} segment in this fold: the closest by probability are shown instead, as the study did."
    )
names_of = explainer.segment_name
labels = {
    int(r.segment_id): f"{names_of(r.segment_id)} · {p_label} {r.prob:.2f}" for r in in_cell.itertuples()
}
if clicked is not None and cell_of.get(clicked) == cell and clicked not in labels:
    r = predictions.set_index("segment_id").loc[clicked]
    labels = {clicked: f"{names_of(clicked)} · {p_label} {r['prob']:.2f} (picked on the plot)", **labels}
if st.session_state.get("e_segment") not in labels:  # a segment of another fold or cell: not this box's
    st.session_state.pop("e_segment", None)
segment_id = c3.selectbox("Segment", list(labels), format_func=labels.get, key="e_segment")
named = predictions.assign(segment=segment_names(explainer.data.segments, predictions["segment_id"]))
with strip_box:
    st.plotly_chart(
        probability_strip(
            named, cells, threshold=explainer.data.threshold, current=segment_id, class_names=names
        ),
        width="stretch",
        on_select="rerun",
        selection_mode="points",
        key=strip_key,
    )
    st.caption(
        "Click a point to explain that segment (the ringed one is shown below); double-click the plot "
        "to clear. "
        "The lists above hold the study's 10 cases per cell."
    )
if segment_id is None:
    st.info("No segment in this cell.")
    st.stop()

m1, m2 = st.columns([2, 1])
method = m1.radio(
    "Method",
    [m for m in METHOD_NAMES if m in EXPLAINERS],
    format_func=METHOD_NAMES.get,
    horizontal=True,
    key="e_method",
)
opacity = m2.slider("Map opacity", 0.0, 1.0, 0.5, 0.05, key="e_opacity")

with st.spinner(f"Computing {METHOD_NAMES[method]}…"):
    maps = explainer.maps(method, [segment_id])
axes = explainer.data.axes
row = explainer.data.segments.iloc[segment_id]
st.caption(
    f"{names_of(segment_id)} ({row['start_s'] * 1000:.0f}–{row['end_s'] * 1000:.0f} ms of the recording) · "
    f"true outcome {label_text(row['label'], names)} · {p_label} = {float(maps['prob'][0]):.3f} · "
    f"threshold of {fold_label(key, repeats=repeats)} {explainer.data.threshold:.2f}"
)
if bool(row.get("padded", False)):
    st.warning(
        "This segment runs past the end of the recording's voiced part: its end is zero padding "
        "(the short-clip policy), so what the maps show there is not voice."
    )


branches = [b for b in ("mel", "stft") if f"heatmap_{b}" in maps]
images = {"mel": explainer.data.mel, "stft": explainer.data.stft}
columns = st.columns(len(branches) + (1 if "delta" in maps else 0))
for column, branch in zip(columns, branches, strict=False):
    fig = cam_overlay(
        np.asarray(images[branch][segment_id]),
        maps[f"heatmap_{branch}"][0],
        hz=axes.row_hz[branch],
        ms=axes.column_ms[branch],
        title=f"{branch.upper()} · {METHOD_NAMES[method]}",
        opacity=opacity,
        real=axes.real_columns[branch],
        end_ms=axes.segment_ms,
    )
    column.plotly_chart(fig, width="stretch", key=f"map_{branch}")
if "delta" in maps:
    grid = common_grid(axes)
    fig = signed_map(
        maps["delta"][0],
        hz=grid.hz,
        ms=grid.ms,
        title="ΔCAM = mel CAM − STFT CAM",
        colorbar="mel − STFT<br>+ red: mel more<br>− blue: STFT more",
    )
    columns[-1].plotly_chart(fig, width="stretch", key="map_delta")
    st.caption(
        "ΔCAM compares the same place: both CAMs are resampled onto one grid of frequency (Hz, linear) "
        "and time "
        f"(0–{axes.segment_ms:.0f} ms, the segment's length) before subtracting, and divided by the "
        "larger of their "
        f"two peaks (scale {float(maps['delta_scale'][0]):.3g}), so ΔCAM lies in [−1, 1]."
    )
st.caption(" ".join(axes.captions[b] for b in branches if b in axes.captions))

st.subheader("In plain words")
try:
    st.markdown(explainer.summary(segment_id=segment_id).text)
except CoreError as exc:
    st.info(str(exc))

st.subheader("Occlusion: what happens when a band or a time chunk is hidden")
scope = (
    st.segmented_control("Scope", ["segment", "patient", "cell", "fold"], default="segment", key="e_scope")
    or "segment"
)
scope_args = {
    "segment": {"segment_id": segment_id},
    "patient": {"patient_id": row["patient_id"]},
    "cell": {"cell": cell},
    "fold": {},
}[scope]
bar_slot = st.empty()


def _occluded(done: int, total: int) -> None:
    bar_slot.progress(
        done / total,
        text=f"Occluding 10 bands and 10 chunks per branch: {done} of {total} segment(s) (cached after "
        "the first time)",
    )


with st.spinner("Occluding 10 bands and 10 chunks per branch (cached after the first time)…"):
    occlusion = explainer.occlusion_summary(on_segments=_occluded, **scope_args)
bar_slot.empty()
occlusion["where"] = [region_words(r) for r in occlusion.itertuples()]
left, right = st.columns(2)
for column, axis, title in ((left, "frequency", "Frequency bands"), (right, "time", "Time chunks")):
    part = occlusion[occlusion["axis"] == axis]
    # One panel per branch: the mel and STFT bands cover different frequencies.
    fig = px.bar(
        part,
        x="where",
        y="mean_delta",
        color="branch",
        facet_col="branch",
        error_y="std_delta",
        labels={"mean_delta": f"{p_label} intact − hidden", "where": ""},
        title=title,
    )
    fig.update_xaxes(matches=None, showticklabels=True)
    fig.update_layout(height=380, margin=dict(t=60, b=10), showlegend=False)
    column.plotly_chart(fig, width="stretch", key=f"occ_{axis}")
st.caption(
    f"Bars: {p_label} with the region intact − with it hidden (mean over the scope's segments; error "
    "bars: SD). "
    f"Positive: the region pushed the prediction towards {names[1]}; negative: towards {names[0]}. "
    "Time chunks past the segment's end only repeat its last frame; they are never named as a top region."
)
st.download_button(
    "Download occlusion table (CSV)", occlusion.to_csv(index=False), "occlusion.csv", "text/csv"
)

st.subheader("Branch masking per fold")
baseline = st.radio(
    "Masked branch replaced by",
    ["black", "mean"],
    horizontal=True,
    key="e_baseline",
    format_func={"black": "a black image", "mean": "the training mean image"}.get,
)
with st.spinner("Masking each branch of every test segment…"):
    explainer.masking_summary(baseline=baseline)
table = masking_overview(run.path, baseline=baseline, names=names)
if not table["Computed"].all() and st.button("Compute masking for every fold", key="e_mask_all"):
    for other in keys:
        with st.spinner(f"Masking {fold_label(other, repeats=repeats)}…"):
            explainer_of = _explainer(str(run.path), other, model_key(run.path, other), str(cache_dir()))
            explainer_of.masking_summary(baseline=baseline)
    table = masking_overview(run.path, baseline=baseline, names=names)
st.dataframe(table, hide_index=True, width="stretch")
st.caption(
    table.attrs["caption"]
    + " Every fold of the run is listed in order; a fold's numbers appear once computed."
)

st.subheader("Which map to believe")
st.caption(
    "Deletion/insertion: remove or add pixels in order of importance; a faithful map moves the "
    "probability faster than a random order. "
    "Randomisation: a map that barely changes when the model's weights are randomised shows the image, "
    "not the model."
)
picked = st.multiselect(
    "Methods",
    list(METHOD_NAMES),
    default=["gradcam", "saliency"],
    format_func=METHOD_NAMES.get,
    key="e_faith_methods",
)
if st.button("Check faithfulness on this cell's cases", key="e_faith"):
    ids = in_cell["segment_id"].astype(int).tolist()[:5]
    with st.spinner(f"Deletion/insertion and randomisation for {len(ids)} segment(s)…"):
        st.session_state["faithfulness"] = explainer.faithfulness_overview(picked, ids)
if "faithfulness" in st.session_state:
    st.dataframe(st.session_state["faithfulness"], hide_index=True, width="stretch")
