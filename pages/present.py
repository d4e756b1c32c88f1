"""Present: a run's lab-meeting slides, one at a time in big font, and the HTML report to download.

Previous / Next buttons answer the left and right arrow keys (Streamlit button shortcuts).
"""

from __future__ import annotations

import html
from pathlib import Path

import streamlit as st

from core import report
from core.cohort import Cohort
from core.errors import CoreError
from core.runs import Run
from pages.shared.sidebar import current_cohort, paired, pick_run, run_notices

st.markdown(
    """<style>
    .voe-slide h2 { font-size: 2.6rem; }
    .voe-slide li { font-size: 1.55rem; line-height: 1.5; }
    [data-testid="stTable"] td, [data-testid="stTable"] th { font-size: 1.1rem; }
    </style>""",
    unsafe_allow_html=True,
)

# The cohort is optional here: without the run's own, the slides take its counts from the run.
# The title comes first: before any run exists, the picker's "no run yet" note sits below it.
title = st.empty()
cohort = current_cohort()
run = pick_run()
if run is None:
    title.title("Present")
    st.stop()
if cohort is not None and not paired(run, cohort):
    st.caption("The slides below take their counts from the run alone.")
    cohort = None
run_notices(run)


def _stamp(run_dir: Path) -> str:
    """Changes when the run or its cached explanations change, so the slides are rebuilt."""
    explain = run_dir / "explain"
    latest = (
        max((p.stat().st_mtime_ns for p in explain.rglob("*.json")), default=0) if explain.is_dir() else 0
    )
    return f"{(run_dir / 'manifest.json').stat().st_mtime_ns}:{latest}"


@st.cache_data(max_entries=8, show_spinner=False)
def _deck(
    run_dir: str, stamp: str, cohort_root: str | None, _run: Run, _cohort: Cohort | None
) -> list[report.Slide]:
    """The slides of ``_run`` (at ``run_dir`` as of ``stamp``) with ``_cohort`` (at ``cohort_root``)."""
    return report.slides(_run, _cohort)


@st.cache_data(max_entries=4, show_spinner=False)
def _html(run_dir: str, stamp: str, cohort_root: str | None, _run: Run, _cohort: Cohort | None) -> str:
    """:func:`_deck`'s slides as one HTML document."""
    return report.export_html(_run, _cohort)


root = str(cohort.root) if cohort is not None else None
stamp = _stamp(run.path)
try:
    with st.spinner("Building the slides…"):
        deck = _deck(str(run.path), stamp, root, run, cohort)
except CoreError as exc:
    st.error(f"The slides cannot be built: {exc}")
    st.stop()

state = "present_slide"
st.session_state[state] = min(max(int(st.session_state.get(state, 0)), 0), len(deck) - 1)


def _move(step: int) -> None:
    st.session_state[state] = min(max(st.session_state[state] + step, 0), len(deck) - 1)


index = st.session_state[state]
bar = st.columns([1.3, 1, 2.5, 2], vertical_alignment="center")
bar[0].button(
    "◀ Previous",
    key="present_prev",
    on_click=_move,
    args=(-1,),
    disabled=index == 0,
    shortcut="Left",
    width="stretch",
)
bar[1].button(
    "Next ▶",
    key="present_next",
    on_click=_move,
    args=(1,),
    disabled=index == len(deck) - 1,
    shortcut="Right",
    width="stretch",
)
bar[2].markdown(f"**Slide {index + 1} of {len(deck)}** · {run.path.name}")
bar[3].download_button(
    "Download the HTML report",
    data=lambda: _html(str(run.path), stamp, root, run, cohort),
    file_name=f"{run.path.name}-report.html",
    mime="text/html",
    key="present_download",
    width="stretch",
    on_click="ignore",
    help="All slides in one self-contained HTML file (works offline, prints one slide per page).",
)

slide = deck[index]
with st.container(border=True):
    bullets = "\n".join(f"<li>{report.inline(b)}</li>" for b in slide.bullets)
    st.markdown(
        f'<div class="voe-slide"><h2>{html.escape(slide.title)}</h2><ul>{bullets}</ul></div>',
        unsafe_allow_html=True,
    )
    if slide.figures:
        for column, (i, fig) in zip(st.columns(len(slide.figures)), enumerate(slide.figures), strict=True):
            column.plotly_chart(fig, width="stretch", key=f"present_fig_{index}_{i}")
    for table in slide.tables:
        st.caption(table.caption)
        st.table(table.frame, hide_index=True)
