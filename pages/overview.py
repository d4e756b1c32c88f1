"""Overview: what is loaded, how balanced it is, and what to do next."""

from __future__ import annotations

import streamlit as st

from core import figures, jobs
from core.cohort.summary import outcome_balance
from core.errors import CoreError
from core.formatting import mean_sd
from core.runs import list_runs
from core.workspace import runs_dir
from pages.shared.sidebar import current_cohort, paired, pick_run, run_notices

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
        fig = figures.class_balance(balance["outcome"], balance["patients"], cohort.class_names)
        st.plotly_chart(fig, width="stretch")
    with right:
        st.subheader("Layout")
        st.markdown(
            f"Read as the **{cohort.layout}** layout. Patient identifiers are replaced by "
            "pseudonyms (P01, P02 …) on loading; names, IDs and record numbers never reach a page."
        )
        st.page_link(
            "pages/cohort.py", label="Browse patients and the validation report", icon=":material/groups:"
        )
        st.page_link(
            "pages/audio.py", label="Listen to a recording and slice it", icon=":material/graphic_eq:"
        )

    st.subheader("Model")
    finished = list_runs(runs_dir())
    finished = finished[finished["folds_done"] > 0]
    if finished.empty:
        busy = jobs.active_job(runs_dir())
        if busy is not None:
            st.info(f"Run {busy.name!r} is training.")
            st.page_link(
                "pages/train.py", label="Follow it on the Train page", icon=":material/model_training:"
            )
        else:
            st.markdown(
                "No run yet. One click trains the demo run: quick preset (small CNN), "
                "5 patient-grouped folds, a few minutes on a laptop CPU."
            )
            if st.button("Train the demo run (quick preset)", type="primary", key="o_train_demo"):
                try:
                    st.session_state["job"] = jobs.launch(
                        cohort=cohort.root, name="demo", preset="quick", runs_dir=runs_dir()
                    )
                except CoreError as exc:
                    st.error(str(exc))
                else:
                    st.switch_page("pages/train.py")
    else:
        run = pick_run()
        if run is not None:
            paired(run, cohort)
            run_notices(run)
            summary = run.summary
            cols = st.columns(4)

            sd_help = "Mean and population SD (ddof=0, as the study) of the per-fold test AUROC."
            cols[0].metric(
                "Patient AUROC, mean ± SD over folds",
                mean_sd(summary["patient_auroc_mean"], summary["patient_auroc_std"]),
                help=sd_help,
            )
            cols[1].metric(
                "Segment AUROC, mean ± SD over folds",
                mean_sd(summary["segment_auroc_mean"], summary["segment_auroc_std"]),
                help=sd_help,
            )
            cols[2].metric("Folds", f"{summary['folds_done']} of {summary['n_folds']}")
            cols[3].markdown(
                f"Backbone  \n**{summary['backbone']}**  \nweights: {summary['weights'] or 'n/a'}"
            )
            st.page_link(
                "pages/results.py", label="All metrics on the Results page", icon=":material/leaderboard:"
            )
