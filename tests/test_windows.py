"""Windows over the voiced region (core.windows): the study's ten 50 ms windows, positions, short clips."""

from __future__ import annotations

import numpy as np
import pytest

from core.audio import normalise, trim_region
from core.config import WindowConfig, preset
from core.windows import cut_segments, plan_windows, window_config_from_overlap, window_lengths
from tests.audio_signals import SR, vowel, with_silence


def test_seed_windows_are_ten_800_sample_windows_in_a_300ms_span() -> None:
    window_config = preset("seed").preprocess.window
    window, hop, span = window_lengths(sr=SR, config=window_config)
    assert (window, span) == (800, 4800)
    assert abs(hop - 445) <= 1
    y = normalise(with_silence(vowel(1.0), lead_s=0.1, tail_s=0.1))
    region = trim_region(y, sr=SR)
    plan = plan_windows(y, region, sr=SR, config=window_config)

    assert len(plan) == 10 and plan.skipped is None
    assert np.all(plan.ends - plan.starts == 800)
    assert np.all(np.abs(np.diff(plan.starts) - 445) <= 1)
    assert plan.starts[0] == region[0] == plan.span[0]
    assert plan.ends[-1] <= plan.span[1] == plan.span[0] + int(0.3 * SR)
    assert not plan.padded.any()
    segments = cut_segments(y, plan)
    assert segments.shape == (10, 800) and segments.dtype == np.float32
    np.testing.assert_array_equal(segments[3], y[plan.starts[3] : plan.ends[3]])


def test_overlap_form_gives_the_study_count() -> None:
    config = window_config_from_overlap(0.444, span_s=0.3, window_s=0.05)
    assert config.count == 10
    assert config.overlap == pytest.approx(0.444, abs=0.002)


def test_centre_and_stable_positions() -> None:
    steady = vowel(1.0, seed=4)
    t = np.arange(SR) / SR
    wobbly = vowel(1.0, seed=5) * (0.55 + 0.45 * np.sin(2 * np.pi * 7 * t)).astype(np.float32)
    y = normalise(np.concatenate([wobbly, steady]))
    region = (0, y.shape[0])

    centre = plan_windows(y, region, sr=SR, config=WindowConfig(position="centre"))
    assert centre.span[0] == (y.shape[0] - 4800) // 2

    stable = plan_windows(y, region, sr=SR, config=WindowConfig(position="stable"))
    assert stable.span[0] >= SR - 0.02 * SR  # inside the steady second half
    assert stable.span[1] <= region[1]


def test_short_clip_pad_policy_zero_fills_past_the_region() -> None:
    y = normalise(vowel(0.25))
    region = trim_region(y, sr=SR)
    assert region[1] - region[0] < 4800
    plan = plan_windows(y, region, sr=SR, config=WindowConfig(short_policy="pad"))
    assert len(plan) == 10 and plan.skipped is None
    assert np.array_equal(plan.padded, plan.ends > region[1])
    assert plan.padded[-1] and not plan.padded[0]
    segments = cut_segments(y, plan)
    last = segments[-1]
    inside = region[1] - plan.starts[-1]
    assert np.all(last[max(inside, 0) :] == 0)
    assert np.isfinite(segments).all()


def test_short_clip_skip_policy_returns_no_windows_with_a_reason() -> None:
    y = normalise(vowel(0.25))
    plan = plan_windows(y, trim_region(y, sr=SR), sr=SR, config=WindowConfig(short_policy="skip"))
    assert len(plan) == 0
    assert plan.skipped is not None and "shorter" in plan.skipped
    assert cut_segments(y, plan).shape == (0, 800)
