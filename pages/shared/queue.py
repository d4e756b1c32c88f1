"""The training queue on the Train page: submit (start now or queue), positions, removal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import streamlit as st

from core import jobs, run_queue


def submit(runs_root: Path, **request: object) -> None:
    """Start the request now, or queue it behind the running training and say where it stands."""
    result = run_queue.submit(runs_root, **request)
    if isinstance(result, jobs.Job):
        st.session_state["job"] = result
        st.rerun()
    place = run_queue.position(runs_root, result.id)
    st.session_state["queued_note"] = (
        f"{result.command.capitalize()} {result.name!r} queued at position {place}."
    )
    st.rerun()


def start_next(runs_root: Path) -> None:
    """With no training running, start the oldest queued request (one the last job did not start)."""
    if jobs.active_job(runs_root) is None:
        job = run_queue.drain(runs_root)
        if job is not None:
            st.session_state["job"] = job


def queue_panel(runs_root: Path) -> None:
    """The queued requests with their positions, and a button to take one off the queue."""
    if note := st.session_state.pop("queued_note", None):
        st.success(note)
    queued = run_queue.pending(runs_root)
    if not queued:
        return
    st.markdown(f"**Queue** ({len(queued)} waiting; each starts when the one before it ends)")
    rows = [
        {
            "position": i,
            "what": r.command,
            "name": r.name,
            "preset": r.preset,
            "queued": dt.datetime.fromtimestamp(r.queued).strftime("%H:%M:%S"),
        }
        for i, r in enumerate(queued, 1)
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
    ids = {f"{i}. {r.name}": r.id for i, r in enumerate(queued, 1)}
    c1, c2 = st.columns([3, 1])
    pick = c1.selectbox("Queued request", list(ids), key="q_pick", label_visibility="collapsed")
    if c2.button("Remove from queue", key="q_remove") and pick:
        run_queue.remove(runs_root, ids[pick])
        st.rerun()
