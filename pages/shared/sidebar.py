"""Sidebar and loading helpers shared by every page (UI only: every number comes from core).

The chosen cohort is a :class:`CohortSource`: the folder picked here plus the label mapping
(label sheet, columns, positive value) set on the Cohort page, kept per folder in the
session so that every page loads the same cohort the same way.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import streamlit as st

from core.cohort import Cohort, CohortSource
from core.cohort.model import folder_signature
from core.cohort.upload import extract_cohort_zip
from core.demo import TRUTH_FILE
from core.errors import CoreError
from core.pairing import SYNTHETIC_BADGE, is_synthetic_cohort, pair_run, run_is_synthetic
from core.runs import Run, list_runs, load_run, read_manifest
from core.workspace import demo_dir, ensure_demo_cohort, runs_dir, uploads_dir

DEMO = "Demo cohort (synthetic)"
FOLDER = "A folder on this machine"
UPLOAD = "Upload a zip file"
#: Session key of the label mappings kept per cohort folder (resolved root → CohortSource.to_dict()).
SOURCES_KEY = "cohort_sources"


@st.cache_resource(max_entries=4, show_spinner=False)
def _load_cohort(source_json: str, signature: str) -> Cohort:
    return CohortSource.from_dict(json.loads(source_json)).load()


def _signature(source: CohortSource) -> str:
    """Changes when any file under the folder, or the label sheet, changes."""
    signature = folder_signature(source.root)
    if source.labels is not None and source.labels.is_file():
        stat = source.labels.stat()
        signature += f"|{stat.st_size}|{stat.st_mtime_ns}"
    return signature


def _ensure_demo() -> Path:
    root = demo_dir()
    if not (root / TRUTH_FILE).is_file():
        bar = st.progress(0.0, text="Creating the built-in demo cohort (43 synthetic patients)…")
        ensure_demo_cohort(
            progress=lambda done, total: bar.progress(
                done / max(total, 1), text=f"Creating the demo cohort: patient {done} of {total}"
            )
        )
        bar.empty()
    return root


#: Sidebar widget keys and where their values are kept: Streamlit drops a widget's state when
#: another page is shown, and every page draws its own copy of the sidebar.
_KEPT: dict[str, str] = {"cohort_source": "kept_cohort_source", "cohort_folder": "kept_cohort_folder"}


#: Query parameters of the URL that carry the choices, so that a link reproduces a view.
QUERY_COHORT, QUERY_RUN = "cohort", "run"
#: Widget keys kept across pages (beside the cohort's) → their query parameter.
_VIEW_QUERY: dict[str, str] = {"run_id": QUERY_RUN, "p_patient": "patient"}


#: CohortSource fields a link carries beside the folder (the label mapping of the Cohort page).
_SOURCE_QUERY: tuple[str, ...] = (
    "labels",
    "path_column",
    "patient_column",
    "label_column",
    "positive",
    "vowel_column",
    "phase_column",
    "take_column",
    "layout",
    "metadata",
)


def _source_to_query(source: CohortSource) -> None:
    """Write the label mapping of ``source`` into the URL (and drop what it does not set)."""
    plain, mine = CohortSource(source.root).to_dict(), source.to_dict()
    for key in _SOURCE_QUERY:
        if mine.get(key) is not None and mine.get(key) != plain.get(key):
            st.query_params[key] = str(mine[key])
        elif key in st.query_params:
            del st.query_params[key]


def _restore_from_query() -> None:
    """Once per session, take the cohort, run and view choices from the URL (a shared link)."""
    if st.session_state.get("kept_from_query"):
        return
    st.session_state["kept_from_query"] = True
    params = st.query_params
    cohort = params.get(QUERY_COHORT)
    if cohort == "demo":
        st.session_state[_KEPT["cohort_source"]] = DEMO
    elif cohort:
        st.session_state[_KEPT["cohort_source"]] = FOLDER
        st.session_state[_KEPT["cohort_folder"]] = cohort
        mapping = {key: params[key] for key in _SOURCE_QUERY if params.get(key)}
        if mapping:
            try:
                keep_source(CohortSource.from_dict({"root": str(Path(cohort).resolve()), **mapping}))
            except (CoreError, TypeError) as exc:
                st.warning(f"The link's label mapping was not used: {exc}")
    for key, name in _VIEW_QUERY.items():
        if params.get(name):
            st.session_state[f"kept_{key}"] = params[name]


def kept_index(key: str, options: list[str]) -> int:
    """Index of the value kept for widget ``key`` (from another page or the URL) in ``options``, else 0."""
    _restore_from_query()
    kept = st.session_state.get(f"kept_{key}")
    return options.index(kept) if kept in options else 0


def keep_choice(key: str) -> None:
    """Keep widget ``key``'s value for the other pages and write it into the URL query."""
    if key in st.session_state:
        st.session_state[f"kept_{key}"] = st.session_state[key]
        if key in _VIEW_QUERY:
            st.query_params[_VIEW_QUERY[key]] = str(st.session_state[key])


def cohort_sidebar() -> None:
    """Draw the cohort picker in the sidebar and remember the choice in session state and the URL."""
    _restore_from_query()
    st.sidebar.markdown("### Cohort")
    choices = [DEMO, FOLDER, UPLOAD]
    kept = st.session_state.get(_KEPT["cohort_source"], DEMO)
    source = st.sidebar.radio(
        "Source",
        choices,
        index=choices.index(kept) if kept in choices else 0,
        key="cohort_source",
        label_visibility="collapsed",
    )
    if source == UPLOAD:
        upload = st.sidebar.file_uploader("Zipped cohort folder", type=["zip"], key="cohort_zip")
        st.session_state["cohort_root"] = st.session_state.get("kept_upload_root")
        if upload is not None:
            try:
                root = extract_cohort_zip(upload.getvalue(), dest_root=uploads_dir(), name=upload.name)
            except CoreError as exc:
                st.sidebar.error(str(exc))
                st.session_state["cohort_root"] = None
            else:
                st.session_state["cohort_root"] = st.session_state["kept_upload_root"] = str(root)
    elif source == FOLDER:
        text = st.sidebar.text_input(
            "Cohort folder",
            value=st.session_state.get(_KEPT["cohort_folder"], ""),
            key="cohort_folder",
            placeholder="/data/voice-study",
            help="The study layout (<id><well|poor>-<year>/pre|post), the notebook layout "
            "(<pid>_<S|A><vowel>_<clip>.wav + CSV), class folders (<class>/<file>.wav), or any folder "
            "with a label sheet (choose its columns on the Cohort page).",
        )
        st.session_state["cohort_root"] = text.strip() or None
    else:
        st.session_state["cohort_root"] = str(_ensure_demo())
    for key, kept in _KEPT.items():
        if key in st.session_state:
            st.session_state[kept] = st.session_state[key]
    root = st.session_state.get("cohort_root")
    if source == DEMO:
        st.query_params[QUERY_COHORT] = "demo"
        st.sidebar.badge(SYNTHETIC_BADGE, icon=":material/science:", color="orange")
    elif root:
        st.query_params[QUERY_COHORT] = root
    elif QUERY_COHORT in st.query_params:
        del st.query_params[QUERY_COHORT]


def chosen_source() -> CohortSource | None:
    """Draw the cohort picker; return the chosen folder with the label mapping kept for it.

    None (after telling the user why) when no folder is chosen or it does not exist.
    """
    cohort_sidebar()
    root = st.session_state.get("cohort_root")
    if not root:
        st.info("Choose a cohort folder, or upload one as a zip file, in the sidebar.")
        return None
    if not Path(root).is_dir():
        st.error(f"The folder {root!r} does not exist or is not a folder.")
        return None
    kept = st.session_state.get(SOURCES_KEY, {}).get(str(Path(root).resolve()))
    if not kept:
        source = CohortSource(Path(root))
        _source_to_query(source)
        return source
    source = CohortSource.from_dict(kept)
    _source_to_query(source)
    st.sidebar.caption(f"Labels: {source.describe()} (set on the Cohort page)")
    return source


def keep_source(source: CohortSource) -> None:
    """Remember ``source`` for its folder: every page loads that folder with this mapping from now on."""
    sources = dict(st.session_state.get(SOURCES_KEY, {}))
    sources[str(source.root)] = source.to_dict()
    st.session_state[SOURCES_KEY] = sources


def load_source(source: CohortSource) -> Cohort | None:
    """The cohort of ``source`` (cached until its files change), or None after showing why it failed."""
    try:
        with st.spinner("Loading and checking the recordings…"):
            return _load_cohort(json.dumps(source.to_dict(), sort_keys=True), _signature(source))
    except CoreError as exc:
        st.error(f"This cohort cannot be loaded: {exc}")
        return None


def current_cohort() -> Cohort | None:
    """Draw the cohort picker, then return the chosen cohort loaded (cached until its files
    change), or None after telling the user why.

    Pages call this themselves (rather than the entry script) so that a page run on its
    own, as AppTest does, has the same sidebar. The cohort's ``source`` carries the label
    mapping chosen on the Cohort page.
    """
    source = chosen_source()
    return None if source is None else load_source(source)


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
        st.info(
            "No trained run yet. Start one on the Train page: the quick preset trains the demo run in "
            "a few minutes."
        )
        st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
        return None
    labels = {
        row.run_id: f"{row.run_id} · {row.status}" + (" · leaky" if "leaky" in row.split else "")
        for row in table.itertuples()
    }
    for row in table.itertuples():
        if run_is_synthetic(read_manifest(row.run_dir)):
            labels[row.run_id] += " · synthetic"
    options = list(labels)
    run_id = st.sidebar.selectbox(
        "Run",
        options,
        index=kept_index("run_id", options),
        format_func=labels.get,
        key="run_id",
        help="Runs newest first: name · status (· leaky split, · trained on synthetic data).",
    )
    keep_choice("run_id")
    # the whole name, which the picker may cut short (markdown, not a caption: pages' captions stay theirs)
    st.sidebar.markdown(f"<small>{html.escape(labels[run_id])}</small>", unsafe_allow_html=True)
    run_dir = table.loc[table["run_id"] == run_id, "run_dir"].iloc[0]
    manifest = Path(run_dir) / "manifest.json"
    return _load_run(run_dir, manifest.stat().st_mtime)


def paired(run: Run, cohort: Cohort) -> bool:
    """Say at the top of the page, and return False, when ``run`` was not trained on ``cohort``
    (the decision is :func:`core.pairing.pair_run`'s)."""
    pairing = pair_run(run, cohort)
    if not pairing.ok:
        st.error(pairing.message, icon=":material/link_off:")
    return pairing.ok


def synthetic_badge(run: Run | None = None, cohort: Cohort | None = None) -> None:
    """Show the "synthetic data" badge when the run was trained on, or the cohort is, synthetic."""
    if (run is not None and run_is_synthetic(run)) or (
        cohort is not None and is_synthetic_cohort(cohort.root)
    ):
        st.badge(
            SYNTHETIC_BADGE,
            icon=":material/science:",
            color="orange",
            help="Generated recordings with a planted effect: the numbers show the tool works, "
            "not that voices predict outcome.",
        )


def run_notices(run: Run) -> None:
    """Say plainly what a reader must know before trusting a run's numbers."""
    if run_is_synthetic(run):
        synthetic_badge(run)
    if run.leaky:
        st.warning(
            "Leaky split: segments of one patient sit in train and test (the study's notebook). "
            "These scores are optimistic; compare with a patient-split run."
        )
    if run.info.weights == "random" and run.config.model.weights == "imagenet":
        st.info(
            "ImageNet weights were not available on this machine, so the backbone started from random "
            f"initialisation. {run.info.weights_reason}"
        )
    if run.status != "complete":
        st.warning(f"This run is {run.status}: {len(run.fold_keys)} of {len(run.info.folds)} folds finished.")
