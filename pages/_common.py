"""Sidebar and loading helpers shared by every page (UI only: every number comes from core)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.cohort import Cohort, load_cohort
from core.cohort.model import folder_signature
from core.demo import TRUTH_FILE
from core.errors import CoreError
from core.workspace import demo_dir, ensure_demo_cohort

DEMO = "Demo cohort (synthetic)"
FOLDER = "A folder on this machine"


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
    source = st.sidebar.radio("Source", [DEMO, FOLDER], key="cohort_source", label_visibility="collapsed")
    if source == FOLDER:
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
        st.info("Choose a cohort folder in the sidebar.")
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
