"""Whole-vowel windows: every window at a hop over the voiced region, capped and spread evenly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.audio import cut_recording, load_audio, plan_windows, trim_region, whole_region_starts
from core.config import PreprocessConfig, WindowConfig
from core.errors import ConfigError


def _first_pd_file(pd_root: Path) -> Path:
    sheet = pd.read_csv(pd_root / "labels.csv")
    return pd_root / sheet["path"].iloc[0]


def test_whole_mode_covers_the_voiced_region_of_a_real_vowel(pd_root: Path) -> None:
    sr = 16_000
    y = load_audio(_first_pd_file(pd_root))
    region = trim_region(y, sr=sr)
    window = WindowConfig(mode="whole", window_s=0.1, hop_s=0.05, count=1000)
    plan = plan_windows(y, region, sr=sr, config=window)
    start, end = region
    expected = (end - start - 1600) // 800 + 1
    assert len(plan) == expected > 40  # a 2.9 s vowel gives dozens of windows, not 10
    assert plan.starts[0] == start
    assert np.all(np.diff(plan.starts) == 800)
    assert plan.ends[-1] <= end and end - plan.ends[-1] < 800  # the last hop's worth at most is uncovered
    assert not plan.padded.any()
    covered = np.zeros(y.shape[0], dtype=bool)
    for a, b in zip(plan.starts, plan.ends, strict=True):
        covered[a:b] = True
    assert covered[start:end].mean() > 0.97


def test_cap_spreads_windows_evenly_from_start_to_end(pd_root: Path) -> None:
    sr = 16_000
    config = PreprocessConfig(window=WindowConfig(mode="whole", window_s=0.1, hop_s=0.01, count=12))
    cut = cut_recording(_first_pd_file(pd_root), config=config)
    plan = cut.plan
    start, end = plan.region
    assert len(plan) == 12
    assert plan.starts[0] == start and plan.ends[-1] == end  # first and last touch the region's ends
    gaps = np.diff(plan.starts)
    assert gaps.max() - gaps.min() <= 1  # evenly spread (rounding only)
    assert cut.segments.shape == (12, 1600)
    np.testing.assert_array_equal(cut.segments[3], cut.signal[plan.starts[3] : plan.ends[3]])
    assert gaps.min() > sr * 0.01  # wider than the hop: the cap thinned them out


def test_short_region_gets_one_padded_window_or_is_skipped() -> None:
    y = np.zeros(16_000, dtype=np.float32)
    y[1000:1500] = np.sin(np.arange(500) * 0.3)
    pad = plan_windows(y, (1000, 1500), sr=16_000, config=WindowConfig(mode="whole", window_s=0.1))
    assert len(pad) == 1 and pad.padded.all() and pad.starts[0] == 1000
    skip = plan_windows(
        y, (1000, 1500), sr=16_000, config=WindowConfig(mode="whole", window_s=0.1, short_policy="skip")
    )
    assert len(skip) == 0 and "shorter" in skip.skipped


def test_whole_region_starts_edge_cases() -> None:
    np.testing.assert_array_equal(whole_region_starts(0, 100, window=40, hop=20, cap=10), [0, 20, 40, 60])
    np.testing.assert_array_equal(whole_region_starts(0, 100, window=40, hop=20, cap=2), [0, 60])
    np.testing.assert_array_equal(whole_region_starts(5, 20, window=40, hop=20, cap=3), [5])


def test_window_mode_is_validated() -> None:
    with pytest.raises(ConfigError, match="window.mode"):
        WindowConfig(mode="all").validate()  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="hop_s"):
        WindowConfig(mode="whole", hop_s=0).validate()
    assert WindowConfig(mode="whole", window_s=0.1, hop_s=0.05).overlap == pytest.approx(0.5)
