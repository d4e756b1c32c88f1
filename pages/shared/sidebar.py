"""Sidebar and loading helpers shared by every page (UI only: every number comes from core)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.cohort import Cohort, load_cohort
from core.cohort.model import folder_signature
from core.cohort.upload import extract_cohort_zip
from core.demo import TRUTH_FILE
from core.errors import CoreError
from core.runs import Run, list_runs, load_run
from core.workspace import demo_dir, ensure_demo_cohort, runs_dir, uploads_dir

DEMO = "Demo cohort (synthetic)"
FOLDER = "A folder on this machine"
UPLOAD = "Upload a zip file"


@st.cache_resource(max_entries=4, show_spinner=False)
def _load_cohort(root: str, signature: str) -> Cohort:
    return load_cohort(root)


def _ensure_demo() -> Path:
    root = demo_dir()
    if not (root / TRUTH_FILE).is_file():
        bar = st.progress(0.0, text="Creating the built-in demo cohort (43 synthetic patients)…")
        ensure_demo_cohort(
            progress=lambda done, total: bar.progress(done / max(total, 1), text=f"Creating the demo cohort: patient {done} of {total}")
        )
        bar.empty()
    return root


def cohort_sidebar() -> None:
    """Draw the cohort picker in the sidebar and remember the choice in session state."""
    st.sidebar.markdown("### Cohort")
    source = st.sidebar.radio("Source", [DEMO, FOLDER, UPLOAD], key="cohort_source", label_visibility="collapsed")
    if source == UPLOAD:
        upload = st.sidebar.file_uploader("Zipped cohort folder", type=["zip"], key="cohort_zip")
        st.session_state["cohort_root"] = None
        if upload is not None:
            try:
                root = extract_cohort_zip(upload.getvalue(), dest_root=uploads_dir(), name=upload.name)
            except CoreError as exc:
                st.sidebar.error(str(exc))
            else:
                st.session_state["cohort_root"] = str(root)
    elif source == FOLDER:
        text = st.sidebar.text_input(
            "Cohort folder",
            key="cohort_folder",
            placeholder="/data/voice-study",
            help="The study layout (<id><well|poor>-<year>/pre|post), the notebook layout "
            "(<pid>_<S|A><vowel>_<clip>.wav + CSV) or class folders (<class>/<file>.wav).",
        )
        st.session_state["cohort_root"] = text.strip() or None
    else:
        st.session_state["cohort_root"] = str(_ensure_demo())


def current_cohort() -> Cohort | None:
    """Draw the cohort picker, then return the chosen cohort loaded (cached until its files
    change), or None after telling the user why.

    Pages call this themselves (rather than the entry script) so that a page run on its
    own, as AppTest does, has the same sidebar.
    """
    cohort_sidebar()
    root = st.session_state.get("cohort_root")
    if not root:
        st.info("Choose a cohort folder, or upload one as a zip file, in the sidebar.")
        return None
    if not Path(root).is_dir():
        st.error(f"The folder {root!r} does not exist or is not a folder.")
        return None
    try:
        with st.spinner("Loading and checking the recordings…"):
            return _load_cohort(root, folder_signature(Path(root)))
    except CoreError as exc:
        st.error(f"This cohort cannot be loaded: {exc}")
        return None


@st.cache_data(max_entries=16, show_spinner=False)
def _load_run(run_dir: str, stamp: float) -> Run:
    return load_run(run_dir)


def pick_run(*, finished_only: bool = True) -> Run | None:
    """Draw the run picker in the sidebar and return the chosen run (or None, saying why)."""
    table = list_runs(runs_dir())
    if finished_only:
        table = table[table["folds_done"] > 0]
    st.sidebar.markdown("### Run")
    if table.empty:
        st.info("No trained run yet. Start one on the Train page: the quick preset trains the demo run in a few minutes.")
        st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
        return None
    labels = {
        row.run_id: f"{row.run_id} · {row.status}" + (" · leaky" if row.split != "patient" else "")
        for row in table.itertuples()
    }
    run_id = st.sidebar.selectbox("Run", list(labels), format_func=labels.get, key="run_id")
    run_dir = table.loc[table["run_id"] == run_id, "run_dir"].iloc[0]
    manifest = Path(run_dir) / "manifest.json"
    return _load_run(run_dir, manifest.stat().st_mtime)


def run_notices(run: Run) -> None:
    """Say plainly what a reader must know before trusting a run's numbers."""
    if run.leaky:
        st.warning("Leaky split: segments of one patient sit in train and test (the study's notebook). "
                   "These scores are optimistic; compare with a patient-split run.")
    if run.manifest.get("weights") == "random" and run.manifest["config"]["model"]["weights"] == "imagenet":
        st.info("ImageNet weights were not available on this machine, so the backbone started from random "
                f"initialisation. {run.manifest.get('weights_reason', '')}")
    if run.status != "complete":
        st.warning(f"This run is {run.status}: {len(run.manifest.get('folds_done', []))} of "
                   f"{len(run.manifest.get('folds', []))} folds finished.")
