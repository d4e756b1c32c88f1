"""One way to write a mean with its spread, and undefined statistics as JSON null."""

from __future__ import annotations

import json

import numpy as np

from core.formatting import mean_sd, nan_to_none


def test_nan_to_none_gives_json_ready_floats() -> None:
    assert nan_to_none(None) is None
    assert nan_to_none(float("nan")) is None and nan_to_none(np.float32("nan")) is None
    value = nan_to_none(np.float32(0.25))
    assert value == 0.25 and type(value) is float
    assert json.dumps([nan_to_none(np.int64(3)), nan_to_none(np.nan)]) == "[3.0, null]"


def test_mean_sd_reads_the_same_everywhere() -> None:
    assert mean_sd(0.81234, 0.0504) == "0.812 ± 0.050"
    assert mean_sd(0.5, None) == "0.500"
    assert mean_sd(None, 0.1) == "n/a" and mean_sd(None, None, missing="—") == "—"
    assert mean_sd(0.7767, 0.0647, fmt=lambda v: f"{100 * v:.2f}%") == "77.67% ± 6.47%"
    assert mean_sd(1.0, 0.0, digits=1) == "1.0 ± 0.0"
