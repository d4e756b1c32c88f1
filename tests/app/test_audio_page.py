"""Audio page: a demo recording is trimmed and cut, and the sliders re-cut it."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_audio_page_slices_and_reslices(app: AppTest) -> None:
    at = app.switch_page("pages/audio.py").run()
    assert not at.exception, at.exception
    assert _metrics(at)["Segments"] == "10"
    assert _metrics(at)["Window / hop"] == "50.0 / 27.8 ms"
    assert len(at.get("audio")) == 2  # the recording and the chosen segment

    at.slider(key="a_count").set_value(5).run()
    assert not at.exception, at.exception
    assert _metrics(at)["Segments"] == "5"
    # 5 windows of 50 ms in 300 ms: hop (300 - 50) / 4 = 62.5 ms, so no overlap.
    assert _metrics(at)["Window / hop"] == "50.0 / 62.5 ms"

    at.selectbox(key="a_vowel").set_value("I").run()
    at.slider(key="a_segment").set_value(3).run()
    assert not at.exception, at.exception
    assert any(c.value.startswith("Segment 3:") for c in at.caption)
    report = at.dataframe[-1].value
    jitter = report[report["measure"] == "jitter_local_pct"]
    assert len(jitter) == 1
    assert float(jitter["reported"].iloc[0]) > 0
    assert abs(float(jitter["recomputed"].iloc[0]) / float(jitter["reported"].iloc[0]) - 1) < 0.01


def test_the_segment_plots_mark_the_frames_past_the_segment(app: AppTest) -> None:
    """A 50 ms segment drawn on a 0-63 ms axis: the frames past 50 ms are shaded and named as padding."""
    import json

    at = app.switch_page("pages/audio.py").run()
    assert not at.exception, at.exception
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    marked = [c for c in charts if c["layout"].get("xaxis", {}).get("title", {}).get("text") == "time (ms)"]
    assert len(marked) == 2  # the Mel and the STFT matrix of the chosen segment
    for chart in marked:
        (shape,) = chart["layout"]["shapes"]
        assert shape["x0"] == 50.0 and shape["x1"] > 50.0
        assert chart["layout"]["annotations"][0]["text"] == "past the segment: padding"
