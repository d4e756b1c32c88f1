"""Class names: from a cohort, a run manifest or a run folder, into tables and sentences."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import soundfile as sf

from core.cohort import CohortSource
from core.cohort.classes import class_names, label_names, label_text, positive_phrase, probability_label
from core.cohort.summary import outcome_balance
from core.explain.summary import summarise
from core.predict import verdict_text


def test_class_names_from_every_holder(tmp_path: Path) -> None:
    manifest = {"data": {"class_names": ["HC", "PD"]}}
    assert class_names(manifest) == ("HC", "PD")
    assert class_names(manifest["data"]) == ("HC", "PD")
    assert class_names(SimpleNamespace(manifest=manifest)) == ("HC", "PD")
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert class_names(tmp_path) == ("HC", "PD")
    # runs made before class names were stored, and nothing at all: the study's words
    assert class_names({"data": {"cohort_dir": "/x"}}) == ("well", "poor")
    assert class_names(tmp_path / "missing") == ("well", "poor") == class_names(None)
    assert label_names(("HC", "PD")) == {0: "HC", 1: "PD"}
    assert [label_text(v, ("HC", "PD")) for v in (0, 1, pd.NA, None)] == ["HC", "PD", "unknown", "unknown"]
    assert positive_phrase(("well", "poor")) == "a poor outcome" and positive_phrase(("HC", "PD")) == "PD"
    assert probability_label(("HC", "PD")) == "P(PD)"


def test_outcome_balance_uses_the_cohorts_own_names(tmp_path: Path) -> None:
    rate = 16_000
    t = np.arange(rate) / rate
    rows = []
    for i, group in enumerate(["HC", "PD", "PD"]):
        y = 0.3 * np.sin(2 * np.pi * (120 + 20 * i) * t) + 0.01 * np.random.default_rng(i).standard_normal(
            t.size
        )
        sf.write(tmp_path / f"voice {i}.wav", y.astype(np.float32), rate)
        rows.append({"wav": f"voice {i}.wav", "speaker": f"s{i}", "group": group})
    pd.DataFrame(rows).to_csv(tmp_path / "sheet.csv", index=False)
    cohort = CohortSource(tmp_path, labels=tmp_path / "sheet.csv").load()
    balance = outcome_balance(cohort)
    assert balance[["outcome", "patients"]].values.tolist() == [["HC", 1], ["PD", 2]]


def test_sentences_speak_the_runs_class_names() -> None:
    study = summarise(prob=np.array([0.2, 0.8, 0.9]), threshold=0.5, subject="patient P07")
    assert study.text.startswith(
        "The model predicts a poor outcome for patient P07: mean probability of poor 0.63"
    )
    pd_run = summarise(
        prob=np.array([0.2, 0.8, 0.9]), threshold=0.5, subject="patient P07", class_names=("HC", "PD")
    )
    assert pd_run.text.startswith("The model predicts PD for patient P07: mean probability of PD 0.63")
    assert pd_run.facts["predicted"] == "PD"
    healthy = summarise(prob=0.1, threshold=0.5, class_names=("HC", "PD"))
    assert healthy.facts["predicted"] == "HC" and "probability of PD 0.10" in healthy.text
    text = verdict_text(mean=0.2, low=0.1, high=0.3, n_models=3, n_poor=0, class_names=("HC", "PD"))
    assert text.startswith(
        "The models lean towards HC: 3 of 3 stay below their threshold (mean probability of PD 0.20"
    )
