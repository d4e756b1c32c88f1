"""Audio: listen to one recording, see where it is trimmed and cut, inspect one segment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.acoustics.agreement import recording_agreement
from core.audio import load_audio
from core.cohort import Cohort
from core.cohort.classes import label_text
from core.config import AudioConfig, SpectrogramConfig, TrimConfig, WindowConfig
from core.errors import CoreError
from core.recording_view import overview_spectrogram, segment_spectrograms, slice_recording, waveform_envelope
from core.workspace import cache_dir
from pages.shared.sidebar import current_cohort

SR = AudioConfig().sample_rate

st.title("Audio")
cohort = current_cohort()
if cohort is None:
    st.stop()


@st.cache_data(max_entries=32, show_spinner=False)
def _signal(path: str, source: str) -> np.ndarray:
    return load_audio(path, name=source)


recordings = cohort.recordings
c1, c2, c3 = st.columns(3)
patient = c1.selectbox("Patient", sorted(recordings["patient_id"].unique()), key="a_patient")
mine = recordings[recordings["patient_id"] == patient]
phase = c2.selectbox("Phase", sorted(mine["phase"].unique(), reverse=True), key="a_phase")
mine = mine[mine["phase"] == phase]
vowel = c3.selectbox("Vowel", sorted(mine["vowel"].unique()), key="a_vowel")
row = mine[mine["vowel"] == vowel].iloc[0]

try:
    y = _signal(str(cohort.audio_path(row["recording_id"])), row["source"])
except CoreError as exc:
    st.error(f"This recording cannot be analysed: {exc}")
    st.stop()

label = label_text(row["label"], cohort.class_names) if pd.notna(row["label"]) else "unknown"
st.caption(
    f"{row['recording_id']} · {row['duration_s']:.2f} s · stored at {int(row['sample_rate'])} Hz, "
    f"{int(row['channels'])} channel(s) · analysed at {SR} Hz mono · outcome: {label}"
)
st.audio(y, sample_rate=SR)

st.subheader("Trimming and sliding windows")
s1, s2, s3, s4, s5 = st.columns(5)
threshold = s1.slider(
    "Silence threshold (dB below peak)", 10, 80, int(TrimConfig().threshold_db), key="a_thr"
)
span_ms = s2.slider("Span (ms)", 100, 2000, int(WindowConfig().span_s * 1000), step=10, key="a_span")
window_ms = s3.slider("Window (ms)", 10, 200, int(WindowConfig().window_s * 1000), step=5, key="a_win")
count = s4.slider("Windows", 1, 40, WindowConfig().count, key="a_count")
position = s5.selectbox("Span position", ["start", "centre", "stable"], key="a_pos")

whole = st.toggle(
    "Whole vowel: windows over the whole kept region (the voice preset)",
    key="a_whole",
    help="Every window at the hop over the kept region, at most 'Windows' of them, spread evenly when "
    "capped.",
)
if whole:
    w1, w2 = st.columns(2)
    hop_ms = w1.slider("Hop (ms)", 5, 200, int(WindowConfig().hop_s * 1000), step=5, key="a_hop")
    count = w2.slider("Most windows per recording", 1, 400, 60, key="a_cap")

trim = TrimConfig(threshold_db=float(threshold))
window = WindowConfig(
    span_s=span_ms / 1000,
    window_s=min(window_ms, span_ms) / 1000,
    count=count,
    position=position,
    mode="whole" if whole else "span",
    hop_s=(hop_ms if whole else 25) / 1000,
)
sliced = slice_recording(y, sr=SR, trim=trim, window=window)
plan = sliced.plan

envelope = waveform_envelope(y, sr=SR)
fig = go.Figure()
fig.add_trace(
    go.Scatter(
        x=envelope["time_s"],
        y=envelope["high"],
        line=dict(width=0.6, color="#12355b"),
        name="waveform",
        showlegend=False,
    )
)
fig.add_trace(
    go.Scatter(
        x=envelope["time_s"],
        y=envelope["low"],
        line=dict(width=0.6, color="#12355b"),
        fill="tonexty",
        showlegend=False,
    )
)
start_s, end_s = sliced.region[0] / SR, sliced.region[1] / SR
fig.add_vrect(
    x0=start_s,
    x1=end_s,
    fillcolor="#7fd1ae",
    opacity=0.18,
    line_width=0,
    annotation_text="kept",
    annotation_position="top left",
)
for i, (a, b) in enumerate(zip(plan.starts, plan.ends, strict=True)):
    fig.add_shape(
        type="rect",
        x0=a / SR,
        x1=b / SR,
        y0=-1.05 + 0.04 * (i % 2),
        y1=1.05 - 0.04 * (i % 2),
        line=dict(color="#e76f51", width=1),
        fillcolor="rgba(231,111,81,0.08)",
    )
fig.update_layout(
    height=280, margin=dict(t=20, b=10), xaxis_title="time (s)", yaxis_title="amplitude (peak = 1)"
)
st.plotly_chart(fig, width="stretch")

m1, m2, m3, m4 = st.columns(4)
m1.metric("Kept region", f"{(end_s - start_s) * 1000:.0f} ms")
m2.metric("Window / hop", f"{plan.window_length / SR * 1000:.1f} / {plan.hop_length / SR * 1000:.1f} ms")
m3.metric("Overlap", f"{(1 - plan.hop_length / plan.window_length) * 100:.1f} %" if len(plan) > 1 else "—")
m4.metric("Segments", len(plan))
if plan.skipped:
    st.warning(f"No segments: {plan.skipped}.")
elif plan.padded.any():
    st.warning(
        f"The voiced part is shorter than the span: {int(plan.padded.sum())} window(s) reach past it "
        "and are zero-padded (short-clip policy: pad)."
    )

spec = overview_spectrogram(y, sr=SR)
heat = go.Figure(
    go.Heatmap(z=spec.db, x=spec.ms / 1000, y=spec.hz, colorscale="Viridis", colorbar=dict(title="dB"))
)
heat.add_vline(x=start_s, line=dict(color="white", dash="dot"))
heat.add_vline(x=end_s, line=dict(color="white", dash="dot"))
heat.update_layout(height=300, margin=dict(t=10, b=10), xaxis_title="time (s)", yaxis_title="frequency (Hz)")
st.plotly_chart(heat, width="stretch")

if len(plan):
    st.subheader("One segment, as the model sees it")
    k = st.slider("Segment", 1, len(plan), 1, key="a_segment") - 1
    segment = sliced.segments[k]
    st.caption(f"Segment {k + 1}: {plan.starts[k] / SR * 1000:.1f}–{plan.ends[k] / SR * 1000:.1f} ms")
    st.audio(segment, sample_rate=SR)
    spectrograms = segment_spectrograms(segment, sr=SR, config=SpectrogramConfig())
    left, right = st.columns(2)
    for column, (name, item) in zip((left, right), spectrograms.items(), strict=True):
        figure = go.Figure(
            go.Heatmap(z=item.db, x=item.ms, y=item.hz, colorscale="Viridis", colorbar=dict(title="dB"))
        )
        figure.update_layout(
            title=f"{name.upper()} (dB)",
            height=340,
            margin=dict(t=40, b=10),
            xaxis_title="time (ms)",
            yaxis_title="frequency (Hz)",
        )
        segment_ms = len(segment) / SR * 1000
        if len(item.ms) and float(item.ms[-1]) > segment_ms:  # frames drawn past the segment's end
            figure.add_vrect(
                x0=segment_ms,
                x1=float(item.ms[-1]),
                fillcolor="white",
                opacity=0.55,
                line_width=0,
                annotation_text="past the segment: padding",
                annotation_position="top left",
            )
        column.plotly_chart(figure, width="stretch")

st.subheader("Praat voice report")


@st.cache_data(max_entries=64, show_spinner=False)
def _agreement(root: str, recording_id: str, cache: str, _cohort: Cohort) -> pd.DataFrame:
    """The Praat report of one recording of ``_cohort`` (at ``root``) beside its recomputation."""
    return recording_agreement(_cohort, recording_id, cache_dir=Path(cache))


try:
    with st.spinner("Reading the Praat report and recomputing its measures with parselmouth…"):
        agreement = _agreement(str(cohort.root), row["recording_id"], str(cache_dir()), cohort)
except CoreError as exc:
    st.info(f"No voice measures for this recording: {exc}")
else:
    if agreement["reported"].isna().all():
        st.caption("No Praat report beside this recording: the values below are recomputed from the audio.")
    else:
        st.caption(
            "The report written by the clinic's Praat beside the recording, and the same measure recomputed "
            "from the audio with the report's settings."
        )
    st.dataframe(agreement, hide_index=True, width="stretch")
