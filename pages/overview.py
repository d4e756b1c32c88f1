"""Overview: what is loaded, how balanced it is, and what to do next."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from core.cohort.summary import outcome_balance
from pages.shared.sidebar import current_cohort

st.title("Voice Outcome Explorer")
st.caption(
    "Predict how a patient's voice turns out after injection laryngoplasty from recordings "
    "made before it, and see why the model thinks so. A research tool, not a diagnosis."
)

cohort = current_cohort()
if cohort is not None:
    errors = int((cohort.problems["severity"] == "error").sum())
    warnings = int((cohort.problems["severity"] == "warning").sum())
    cols = st.columns(4)
    cols[0].metric("Patients", cohort.n_patients)
    cols[1].metric("Recordings", int(cohort.recordings.shape[0]))
    cols[2].metric("Files excluded", errors, help="Unreadable, silent, NaN, misnamed … see the Cohort page.")
    cols[3].metric("Warnings", warnings, help="Kept but noted: stereo, clipped, short clips …")

    balance = outcome_balance(cohort)
    left, right = st.columns([2, 3])
    with left:
        st.subheader("Outcome balance")
        fig = px.bar(
            balance,
            x="outcome",
            y="patients",
            text="patients",
            color="outcome",
            color_discrete_map={"well": "#2a9d8f", "poor": "#e76f51", "unknown": "#adb5bd"},
        )
        fig.update_layout(showlegend=False, height=300, margin=dict(t=10, b=10), yaxis_title="patients")
        st.plotly_chart(fig, width="stretch")
    with right:
        st.subheader("Layout")
        st.markdown(
            f"Read as the **{cohort.layout}** layout. Patient identifiers are replaced by "
            "pseudonyms (P01, P02 …) on loading; names, IDs and record numbers never reach a page."
        )
        st.page_link("pages/cohort.py", label="Browse patients and the validation report", icon=":material/groups:")
        st.page_link("pages/audio.py", label="Listen to a recording and slice it", icon=":material/graphic_eq:")
