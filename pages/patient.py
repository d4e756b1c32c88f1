"""Patient: one patient's facts, recordings, held-out probability of a poor outcome, and why.

For doctors: large, calm and printable. Every number comes from core.patient.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core import patient
from core import patient_words as words
from core.audio import load_audio
from core.cohort import Cohort
from core.cohort.classes import class_names, positive_phrase
from core.config import AudioConfig
from core.errors import CoreError
from core.explain import FoldExplainer
from core.explain.fold import model_key
from core.figures import gradcam_overlays, model_spread
from core.runs import Run
from core.workspace import cache_dir
from pages.shared.sidebar import current_cohort, keep_choice, kept_index, paired, pick_run, run_notices

SR = AudioConfig().sample_rate

st.markdown(
    """<style>
    [data-testid="stMetricValue"] { font-size: 4rem; }
    .voe-calm p, .voe-calm li { font-size: 1.25rem; line-height: 1.6; }
    @media print {
      [data-testid="stSidebar"], header, [data-testid="stToolbar"] { display: none !important; }
    }
    </style>""",
    unsafe_allow_html=True,
)
st.title("Patient")
cohort = current_cohort()
if cohort is None:
    st.stop()
run = pick_run()
if run is None or not paired(run, cohort):
    st.stop()
st.info(
    "Research tool, not a diagnosis. The probability comes from models trained on a small study cohort; "
    "it has not been validated for clinical decisions.",
    icon=":material/info:",
)
run_notices(run)

try:
    in_run = patient.patient_ids(run)
except CoreError as exc:
    st.error(f"This run cannot be shown per patient: {exc}")
    st.stop()
known = set(cohort.patients["patient_id"].astype(str))
choices = [p for p in in_run if p in known]
if not choices:
    st.error(
        "None of this run's patients is in the chosen cohort. Choose the cohort the run was trained on "
        "in the sidebar."
    )
    st.stop()

left, right = st.columns([1, 2])
patient_id = left.selectbox("Patient", choices, index=kept_index("p_patient", choices), key="p_patient")
keep_choice("p_patient")
include_validation = right.toggle(
    "Also count fold models that used this patient for validation",
    key="p_validation",
    help="Those models did not train on the patient either, but chose their best epoch and threshold "
    "with them.",
)

if run.leaky:
    st.warning(
        f"In this leaky run every fold model trained on some of {patient_id}'s segments, so none of these "
        "probabilities is a true held-out prediction."
    )
try:
    facts = patient.patient_facts(cohort, patient_id)
    recordings = patient.patient_recordings(cohort, patient_id)
    probability = patient.patient_probability(run, patient_id, include_validation=include_validation)
except CoreError as exc:
    st.error(f"This patient cannot be shown: {exc}")
    st.stop()

repeats = run.repeats
disagreement = words.disagreement(probability)
if disagreement:
    st.warning(disagreement, icon=":material/compare_arrows:")
top_left, top_right = st.columns([1, 2], gap="large")
with top_left:
    st.subheader("Facts")
    st.table(facts.set_index("fact"), border="horizontal")
with top_right:
    st.subheader(f"Probability of {positive_phrase(class_names(run))}")
    st.metric(
        "Mean over the fold models that did not train on this patient",
        f"{probability.mean:.2f}",
        help="Patient probability = mean of the segment probabilities of the pre-op /a/ recording.",
    )
    spread = (
        (
            f"Spread across {probability.n_models} models: {probability.low:.2f} – {probability.high:.2f} "
            f"(SD {probability.sd:.2f})"
        )
        if probability.n_models > 1
        else "One model held this patient out: no spread."
    )
    st.markdown(f"**{spread}**")
    table = probability.table
    fig = model_spread(
        table["prob"],
        table["threshold"],
        mean=probability.mean,
        hover=[
            f"{words.fold_name(k, repeats=repeats)} ({words.ROLES.get(p, p)})"
            for k, p in zip(table["fold_key"], table["part"], strict=True)
        ],
        x_title=f"probability of {positive_phrase(class_names(run))}",
        colours=np.where(table["part"] == "test", "#12355b", "#8da9c4").tolist(),
    )
    st.plotly_chart(fig, width="stretch", key="p_spread")
    st.markdown(
        f'<div class="voe-calm"><p>{words.summary(probability, repeats=repeats)}</p></div>',
        unsafe_allow_html=True,
    )
    with st.expander("Each model"):
        st.dataframe(words.model_table(probability, repeats=repeats), hide_index=True, width="stretch")


@st.cache_data(max_entries=64, show_spinner=False)
def _signal(path: str, recording_id: str) -> np.ndarray:
    return load_audio(path, name=recording_id)


st.subheader("Recordings")
columns = st.columns(4)
for i, row in enumerate(recordings.itertuples()):
    with columns[i % 4]:
        st.markdown(
            f"**{row.phase}-op · vowel {row.vowel}**" + (f" (take {row.take})" if row.take > 1 else "")
        )
        try:
            st.audio(_signal(str(cohort.audio_path(row.recording_id)), row.recording_id), sample_rate=SR)
        except CoreError as exc:
            st.caption(f"Cannot be played: {exc}")
        st.caption(f"{row.duration_s:.1f} s")


@st.cache_resource(max_entries=4, show_spinner=False)
def _explainer(
    run_dir: str, key: str, version: str, cohort_root: str, cache: str, _run: Run, _cohort: Cohort
) -> FoldExplainer:
    """Fold ``key`` of ``_run`` (at ``run_dir``; ``version`` names its model file) on ``_cohort``."""
    return patient.fold_explainer(_run, key, cohort=_cohort, cache_dir=Path(cache))


@st.cache_data(max_entries=32, show_spinner=False)
def _explanation(
    run_dir: str, key: str, version: str, patient_id: str, threshold: float, _explainer: FoldExplainer
) -> patient.PatientExplanation:
    return patient.explain_patient(_explainer, patient_id, threshold=threshold)


st.subheader("Why the model thinks so")
key = patient.explain_fold(run, patient_id)
threshold = float(probability.table.loc[probability.table["fold_key"] == key, "threshold"].iloc[0])
try:
    with st.spinner(
        "Loading the fold model and explaining this patient's segments (cached after the first time)…"
    ):
        version = model_key(run.path, key)
        explainer = _explainer(str(run.path), key, version, str(cohort.root), str(cache_dir()), run, cohort)
        explanation = _explanation(str(run.path), key, version, patient_id, threshold, explainer)
except CoreError as exc:
    st.error(f"The explanation cannot be shown: {exc}")
    st.stop()

st.markdown(f'<div class="voe-calm"><p>{explanation.summary.text}</p></div>', unsafe_allow_html=True)
row = explanation.segments[explanation.segments["segment_id"] == explanation.segment_id].iloc[0]
overlays = gradcam_overlays(
    explanation,
    row_hz=explanation.row_hz,
    column_ms=explanation.column_ms,
    colorbar="where the model looked",
    real_columns=explanation.real_columns,
    end_ms=explanation.segment_ms,
)
for column, (branch, figure) in zip(st.columns(len(overlays)), overlays.items(), strict=True):
    column.plotly_chart(figure, width="stretch", key=f"p_cam_{branch}")
st.caption(
    f"The most typical 50 ms segment of {row['recording_id']} (segment {int(row['segment_index']) + 1}, "
    f"{row['start_s'] * 1000:.0f}–{row['end_s'] * 1000:.0f} ms): probability {explanation.segment_prob:.2f}, "
    f"the closest to this patient's mean. Model of {words.fold_name(key, repeats=repeats)}; masking and "
    f"occlusion {explanation.source}. "
    "Print this page with your browser (Ctrl+P)."
)
