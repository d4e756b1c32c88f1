"""Predict: upload or record a sustained vowel, check it, and ask every fold model of a run.

The audio stays in memory; core.predict reads it through a temporary file it deletes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import streamlit as st

from core import ood
from core.cohort.classes import class_names, positive_phrase
from core.errors import CoreError
from core.explain.regions import ImageAxes
from core.figures import gradcam_overlays, model_spread
from core.folds import FoldKey
from core.pairing import run_is_synthetic
from core.predict import NOT_A_DIAGNOSIS, Ensemble, predict_recording
from core.runs import Run
from core.workspace import cache_dir
from pages.shared.sidebar import pick_run, run_notices

VERDICT_COLOURS = {"pass": "#d8f3dc", "warn": "#fff3bf", "fail": "#ffc9c9"}

st.markdown('<style>[data-testid="stMetricValue"] { font-size: 4rem; }</style>', unsafe_allow_html=True)
st.title("Predict")
st.warning(NOT_A_DIAGNOSIS, icon=":material/info:")

run = pick_run()
if run is None:
    st.stop()
run_notices(run)


@st.cache_resource(max_entries=2, show_spinner=False)
def _ensemble(run_dir: str, stamp: int, _run: Run) -> Ensemble:
    """The fold models of ``_run`` (the run at ``run_dir`` as of ``stamp``, its manifest's mtime)."""
    return Ensemble.from_run(_run)


config = run.config
selection = config.preprocess.selection
vowels = " or ".join(f"/{v.lower()}/" for v in selection.vowels)
st.markdown(
    f"Record a **sustained vowel {vowels}** for about three seconds in a quiet room, as the run's training "
    f"recordings ({', '.join(selection.phases)}-op). Every one of the run's "
    f"{len(run.fold_keys)} "
    f"fold models gives its probability of {positive_phrase(class_names(run))}."
)

upload_tab, record_tab = st.tabs(["Upload a file", "Record now"])
uploaded = upload_tab.file_uploader("A recording (WAV or FLAC)", type=["wav", "flac"], key="u_file")
recorded = record_tab.audio_input("Record", key="u_record")
audio = uploaded if uploaded is not None else recorded
if audio is None:
    st.info("Upload a recording or record one to get a prediction.")
    st.stop()

data = audio.getvalue()
stamp = (run.path / "manifest.json").stat().st_mtime_ns
suffix = Path(audio.name or "recording.wav").suffix.lower() or ".wav"
st.audio(data)
try:
    with st.spinner("Loading the run's fold models…"):
        ensemble = _ensemble(str(run.path), stamp, run)
except CoreError as exc:
    st.error(f"This run cannot predict: {exc}")
    st.stop()


@st.cache_data(max_entries=4, show_spinner=False)
def _reference(run_dir: str, stamp: int, cache: str, _run: Run) -> pd.DataFrame | str:
    """The training recordings' range, or why it cannot be had (the check is then skipped, saying so)."""
    try:
        return ood.run_reference(_run, cache_dir=Path(cache))
    except CoreError as exc:
        return str(exc)


with st.spinner("Measuring the run's training recordings (once per run)…"):
    reference = _reference(str(run.path), stamp, str(cache_dir()), run)
if isinstance(reference, str):
    st.warning(f"This recording cannot be compared with the training data: {reference}.")
    reference = None
digest = hashlib.sha256(data).hexdigest()
# Only the latest result is kept, keyed by a hash: the audio itself is never stored.
cached = st.session_state.get("u_result")
if cached is None or cached[0] != (digest, str(run.path)):
    try:
        with st.spinner("Checking the recording and asking every fold model…"):
            prediction = predict_recording(
                data, ensemble=ensemble, suffix=suffix, reference=reference, synthetic=run_is_synthetic(run)
            )
    except CoreError as exc:
        st.error(f"This recording cannot be analysed: {exc}")
        st.stop()
    st.session_state["u_result"] = ((digest, str(run.path)), prediction)
else:
    prediction = cached[1]

st.subheader("Quality checks")
checks = prediction.quality.checks.style.map(
    lambda v: f"background-color: {VERDICT_COLOURS.get(v, 'white')}", subset=["verdict"]
)
st.dataframe(checks, hide_index=True, width="stretch")
if not prediction.ok:
    st.error("This recording cannot be used: " + "; ".join(prediction.quality.failures) + ".")
    st.stop()

if prediction.ood is not None:
    st.subheader("Like the training data?")
    if not prediction.ood.ok:
        st.warning(
            "This recording is unlike the training data: "
            + "; ".join(prediction.ood.unlike)
            + ". The models' verdict is not reliable here.",
            icon=":material/warning:",
        )
    st.dataframe(
        prediction.ood.table,
        hide_index=True,
        width="stretch",
        column_config={
            "training_range": "training range (10 % margin applies)",
            "outside": "outside the training range",
        },
    )

result = prediction.result
st.subheader("Prediction")
left, right = st.columns([1, 2], gap="large")
left.metric(
    f"Probability of {positive_phrase(class_names(run))}",
    f"{result.mean:.2f}",
    help="Mean over the fold models of the recording's probability (mean of its segments).",
)
left.markdown(
    f"**{result.n_poor} of {result.n_models}** models reach their threshold · "
    f"spread {result.low:.2f} – {result.high:.2f} (SD {result.sd:.2f})"
)
with right:
    st.markdown(result.verdict)
    fig = model_spread(
        result.per_model["prob"],
        result.per_model["threshold"],
        mean=result.mean,
        hover=result.per_model["fold_key"].astype(str).tolist(),
        x_title=f"probability of {positive_phrase(class_names(run))}",
    )
    st.plotly_chart(fig, width="stretch", key="u_spread")

with st.expander("Per fold model and per segment"):
    st.dataframe(result.per_model, hide_index=True, width="stretch")
    st.dataframe(result.segments, hide_index=True, width="stretch")

st.subheader("Where the model looked")
axes = ImageAxes.from_config(config.preprocess)


overlays = gradcam_overlays(
    result,
    row_hz=axes.row_hz,
    column_ms=axes.column_ms,
    colorbar="Grad-CAM",
    real_columns=axes.real_columns,
    end_ms=axes.segment_ms,
)
for column, (branch, figure) in zip(st.columns(len(overlays)), overlays.items(), strict=True):
    column.plotly_chart(figure, width="stretch", key=f"u_cam_{branch}")
segment = result.segments.iloc[result.segment]
st.caption(
    f"Segment {result.segment + 1} ({segment['start_s'] * 1000:.0f}–{segment['end_s'] * 1000:.0f} ms), "
    "the closest "
    f"to the mean probability, explained by the model of {FoldKey.parse(result.explained_by)} (the closest "
    "to the "
    "ensemble mean)."
)
st.download_button(
    "Download the per-model table (CSV)",
    result.per_model.to_csv(index=False),
    "prediction.csv",
    "text/csv",
    key="u_download",
)
