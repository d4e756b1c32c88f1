"""The Patient page's words: folds 1-based, no "0.49 below 0.49", disagreements flagged, no internal keys."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core import patient_words as words
from core.metrics import ModelSpread
from core.patient import PatientProbability


def probability(probs, thresholds, parts, *, label, keys=None) -> PatientProbability:
    keys = keys or [f"r0f{i}" for i in range(len(probs))]
    table = pd.DataFrame(
        {
            "fold_key": keys,
            "part": parts,
            "prob": probs,
            "threshold": thresholds,
            "label": [label] * len(probs),
        }
    )
    return PatientProbability(
        **ModelSpread.of(np.array(probs, float), np.array(thresholds, float)), table=table, label=label
    )


def test_fold_names_are_one_based() -> None:
    assert words.fold_name("r0f2") == "fold 3"
    assert words.fold_name("r1f0", repeats=3) == "repeat 2, fold 1"


def test_rounding_never_reads_equal_when_the_numbers_differ() -> None:
    assert words.compare_numbers(0.4912, 0.4938) == ("0.491", "0.494")
    assert words.compare_numbers(0.49, 0.71) == ("0.49", "0.71")
    one = probability([0.4912], [0.4938], ["test"], label=1)
    text = words.summary(one)
    assert "0.491" in text and "0.494" in text and "stays below" in text and "a well outcome" in text
    assert "fold 1" in text and "r0f0" not in text


def test_a_disagreement_is_flagged_and_an_agreement_is_not() -> None:
    lean_poor = probability([0.8, 0.7, 0.2], [0.5, 0.5, 0.5], ["test", "test", "val"], label=0)
    assert words.disagreement(lean_poor) == (
        "The prediction disagrees with what happened: the models lean "
        "towards a poor outcome, but the recorded outcome is a well outcome."
    )
    agree = probability([0.8, 0.7, 0.2], [0.5, 0.5, 0.5], ["test", "test", "val"], label=1)
    assert words.disagreement(agree) is None
    split = probability([0.8, 0.2], [0.5, 0.5], ["test", "test"], label=0)
    assert words.disagreement(split) is None
    assert words.disagreement(probability([0.8], [0.5], ["test"], label=None)) is None


def test_the_model_table_has_no_internal_keys() -> None:
    table = words.model_table(
        probability([0.8, 0.2], [0.5, 0.61], ["test", "val"], label=1, keys=["r0f2", "r0f4"])
    )
    assert table["model"].tolist() == ["fold 3", "fold 5"]
    assert table["this patient was"].tolist() == [
        "held out for testing",
        "used to choose the model's settings (validation)",
    ]
    assert table["the model says"].tolist() == ["a poor outcome", "a well outcome"]
    text = table.to_csv()
    for key in ("fold_key", "r0f", "part", "label"):
        assert key not in text
