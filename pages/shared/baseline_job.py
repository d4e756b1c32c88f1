"""The Results page's "Run the acoustic baseline" block: launch the job, follow it, show when it is done.

UI only: the job is :mod:`core.baseline_jobs` (``python -m core baseline`` in a subprocess).
"""

from __future__ import annotations

import streamlit as st

from core import baseline_jobs
from core.errors import CoreError
from core.runs import Run
from core.workspace import cache_dir

#: Models the page offers (the CLI's names) and how they read.
MODELS = {"logreg": "logistic regression", "random_forest": "random forest", "svm": "SVM"}
STATE = "baseline_job"


def baseline_launcher(run: Run) -> None:
    """Offer to compute the baseline of ``run`` in the background, or follow the job computing it."""
    job = st.session_state.get(STATE)
    if job is not None and job.run_dir == str(run.path.resolve()):
        _follow(job)
        return
    busy = baseline_jobs.active_baseline(run.path)
    if busy is not None:
        st.info(
            "The acoustic baseline of this run is being computed in another session; reload this page later."
        )
        return
    st.info(
        "The classical acoustic baseline (jitter, shimmer, HNR, CPP with logistic regression, random forest "
        "and SVM) has not been run for this run yet. It trains on the same patient folds, in the background; "
        f"in a terminal: `python -m core baseline --run {run.path.name}`."
    )
    models = st.multiselect(
        "Baseline models", list(MODELS), default=list(MODELS), format_func=MODELS.get, key="r_baseline_models"
    )
    if st.button("Run the acoustic baseline", type="primary", key="r_baseline_run", disabled=not models):
        try:
            st.session_state[STATE] = baseline_jobs.launch(
                run.path, options=["--models", ",".join(models)], cache_dir=cache_dir()
            )
        except CoreError as exc:
            st.error(str(exc))
            return
        st.rerun()


@st.fragment(run_every=2.0)
def _follow(job: baseline_jobs.BaselineJob) -> None:
    state = baseline_jobs.status(job)
    if state["alive"]:
        st.info(
            "Computing the acoustic baseline in the background (voice measures of every recording, then "
            "each model on each fold)…",
            icon=":material/hourglass_top:",
        )
        if state["log_tail"]:
            st.code(state["log_tail"], language=None)
        if st.button("Cancel the baseline", key="r_baseline_cancel"):
            baseline_jobs.cancel(job)
            st.session_state.pop(STATE, None)
            st.rerun(scope="app")
        return
    st.session_state.pop(STATE, None)
    if state["status"] == "complete":
        st.rerun(scope="app")  # the comparison is on disk now: the page shows it
    st.error(f"The acoustic baseline failed (exit code {state['exit_code']}):\n\n{state['log_tail']}")
