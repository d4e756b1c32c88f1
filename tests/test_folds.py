"""FoldKey: one 1-based naming of folds for people, the 0-based storage key kept in files."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import RunError
from core.folds import FoldKey, fold_label, repeats_of, sorted_keys
from core.results import fold_label as table_label
from core.segment_names import segment_name, segment_names
from core.splits import Fold


def test_parse_and_storage_key_round_trip() -> None:
    key = FoldKey.parse("r0f2")
    assert (key.repeat, key.fold) == (0, 2)
    assert key.key == "r0f2"
    assert FoldKey.parse(" r12f7 ").key == "r12f7"
    assert FoldKey.of(2, repeat=1) == FoldKey(1, 2)
    assert FoldKey.of("r1f2") is not None and FoldKey.of(FoldKey(1, 2)) == FoldKey(1, 2)


@pytest.mark.parametrize("bad", ["fold 3", "r0", "f2", "r-1f2", "r0f2x", "", "R0F2"])
def test_parse_refuses_what_is_not_a_key(bad: str) -> None:
    with pytest.raises(RunError, match="expected e.g. 'r0f2'"):
        FoldKey.parse(bad)


def test_people_see_one_based_folds_and_repeats_only_when_there_are_several() -> None:
    assert FoldKey.parse("r0f2").label() == "fold 3"
    assert FoldKey.parse("r0f2").label(repeats=3) == "repeat 1 · fold 3"
    assert str(FoldKey.parse("r0f0")) == "fold 1"
    assert str(FoldKey.parse("r1f4")) == "repeat 2 · fold 5"
    assert fold_label("r0f2") == "fold 3"
    # The study tables use the same numbering, capitalised at the start of a cell.
    assert table_label(0, 2, repeats=1) == "Fold 3"
    assert table_label(1, 0, repeats=2) == "Repeat 2 · fold 1"


def test_every_stored_key_comes_from_fold_key() -> None:
    import numpy as np

    empty = np.zeros(0, dtype=int)
    assert Fold(repeat=1, fold=3, seed=0, train=empty, val=empty, test=empty).key == "r1f3"
    assert (
        FoldKey.of(3).key == "r0f3"
        and FoldKey.of(3, repeat=2).key == "r2f3"
        and FoldKey.of("r1f0").key == "r1f0"
    )
    with pytest.raises(RunError):
        FoldKey.of("fold 1")


def test_keys_sort_by_repeat_then_fold_not_by_text() -> None:
    keys = ["r1f0", "r0f10", "r0f2", "r0f1"]
    assert sorted_keys(keys) == ["r0f1", "r0f2", "r0f10", "r1f0"]
    assert repeats_of(keys) == 2 and repeats_of(["r0f0", "r0f1"]) == 1


def test_segment_names_use_recording_and_one_based_window() -> None:
    segments = pd.DataFrame({"recording_id": ["P01_S1", "P01_S1", "P02_S1"], "segment_index": [0, 8, 3]})
    assert segment_name("P07_S1", 8) == "P07_S1 · window 9"
    assert segment_names(segments, [1, 2]) == ["P01_S1 · window 9", "P02_S1 · window 4"]
