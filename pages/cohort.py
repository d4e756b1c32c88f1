"""Cohort: how the labels are read (layout or label sheet), pseudonymous patient table with
filters, durations, balance, validation report."""

from __future__ import annotations

import math

import plotly.express as px
import streamlit as st

from core.cohort.classes import label_names
from core.cohort.summary import duration_table, outcome_balance
from pages.shared.label_form import label_mapping_form
from pages.shared.sidebar import chosen_source, load_source

st.title("Cohort")
source = chosen_source()
if source is None:
    st.stop()
with st.expander(f"Labels: {source.describe()}", expanded=source.labels is not None):
    label_mapping_form(source)
cohort = load_source(source)
if cohort is None:
    st.info("If the folder has a sheet naming each file's speaker and label, choose it under Labels above.")
    st.stop()
severity_counts = cohort.problems["severity"].value_counts()
balance = outcome_balance(cohort)
classes = " · ".join(
    f"{r.outcome} = {r.label} ({r.patients} patients)" for r in balance.itertuples() if r.outcome != "unknown"
)
st.markdown(
    f"**{cohort.layout}** layout · {cohort.n_patients} patients · {len(cohort.recordings)} recordings · "
    f"{int(severity_counts.get('error', 0))} errors · {int(severity_counts.get('warning', 0))} warnings "
    f"· {classes}"
)

patients = cohort.patients.copy()
patients["outcome"] = (
    patients["outcome"].map(label_names(cohort.class_names)).astype("string").fillna("unknown")
)

with st.expander("Filters", expanded=True):
    c1, c2, c3, c4 = st.columns(4)

    def _choices(column: str) -> list[str]:
        return sorted(patients[column].astype("string").fillna("unknown").unique().tolist())

    picked = {
        "cause": c1.multiselect("Cause", _choices("cause"), key="f_cause"),
        "side": c2.multiselect("Side", _choices("side"), key="f_side"),
        "sex": c3.multiselect("Sex", _choices("sex"), key="f_sex"),
        "technique": c4.multiselect("Technique", _choices("technique"), key="f_tech"),
        "outcome": c1.multiselect("Outcome", _choices("outcome"), key="f_outcome"),
    }
    ages = patients["age"].dropna().astype(float)
    age_low, age_high = (
        (math.floor(ages.min()), math.ceil(ages.max())) if len(ages) else (0, 0)
    )  # 80.55 stays in
    age_range = (
        c2.slider("Age (years)", age_low, age_high, (age_low, age_high), key="f_age")
        if len(ages) and ages.min() < ages.max()
        else None
    )
    amount = patients[["amount_r", "amount_l"]].astype(float).sum(axis=1, min_count=1)
    amounts = amount.dropna()
    amount_range = (
        c3.slider(
            "Injected amount (ml)",
            float(amounts.min()),
            float(amounts.max()),
            (float(amounts.min()), float(amounts.max())),
            step=0.1,
            key="f_amount",
        )
        if len(amounts) and amounts.min() < amounts.max()
        else None
    )

mask = patients["patient_id"].notna()
for column, values in picked.items():
    if values:
        mask &= patients[column].astype("string").fillna("unknown").isin(values)
if age_range:
    mask &= patients["age"].astype(float).between(*age_range) | patients["age"].isna()
if amount_range:
    mask &= amount.between(*amount_range) | amount.isna()
shown = patients[mask]

st.subheader(f"Patients ({len(shown)} of {len(patients)})")
st.dataframe(shown, hide_index=True, width="stretch")
st.download_button("Download patients (CSV)", shown.to_csv(index=False), "patients.csv", "text/csv")

left, right = st.columns([3, 2])
with left:
    st.subheader("Recording durations (ms)")
    st.dataframe(duration_table(cohort), hide_index=True, width="stretch")
    fig = px.box(
        cohort.recordings.merge(cohort.patients[["patient_id", "cause"]], on="patient_id").assign(
            duration_ms=lambda d: d["duration_s"] * 1000
        ),
        x="phase",
        y="duration_ms",
        color="cause",
        points="all",
        labels={"duration_ms": "duration (ms)", "phase": "phase"},
    )
    fig.update_layout(height=320, margin=dict(t=10, b=10))
    st.plotly_chart(fig, width="stretch")
with right:
    st.subheader("Outcome balance")
    st.dataframe(
        balance.drop(columns="label"),
        hide_index=True,
        width="stretch",
        column_config={
            "share": st.column_config.ProgressColumn("share", min_value=0.0, max_value=1.0, format="percent"),
            "outcome": st.column_config.TextColumn("outcome", width="medium"),
        },
    )

st.subheader("Validation report")
if cohort.files is not None:
    files = cohort.files
    st.caption(
        f"Files under the folder: {files.seen} seen = {files.used} used (recordings, their voice "
        f"reports, the sheet) + {files.reported} named in the report + {files.set_aside} set aside "
        "(hidden or system files, documents at the top of the folder)."
    )
problems = cohort.problems
if problems.empty:
    st.success("Every file was read and understood.")
else:
    severity = st.segmented_control(
        "Show", ["error", "warning"], selection_mode="multi", default=["error", "warning"], key="f_severity"
    )
    st.caption("error = the file or row was left out; warning = kept, but worth a look.")
    st.dataframe(
        problems[problems["severity"].isin(severity or [])],
        hide_index=True,
        width="stretch",
        column_config={"reason": st.column_config.TextColumn("reason", width="large")},
    )
    st.download_button(
        "Download report (CSV)", problems.to_csv(index=False), "validation_report.csv", "text/csv"
    )
