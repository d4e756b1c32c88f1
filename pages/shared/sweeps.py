"""Sweep widgets: the Train page's "Sweep" section and the Results page's sweep table (core does the work)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.cohort.model import Cohort
from core.commands.cohort_options import cohort_argv
from core.config import VOWELS
from core.errors import CoreError
from core.models.backbones import BACKBONES
from core.sweep import list_sweeps, read_sweep, sweep_table
from pages.shared.queue import submit

TABLE_COLUMNS = [
    "configuration",
    "status",
    "repeats",
    "folds",
    "auroc",
    "acc",
    "recall",
    "specificity",
    "f1",
    "val_auroc_mean",
    "delong_diff",
    "delong_p",
]


def sweep_section(cohort: Cohort, runs_root: Path) -> None:
    """Grid choices and a button that launches ``python -m core sweep`` in the background.

    The cohort's label mapping (a label sheet, its columns, the positive value) travels with
    the sweep as cohort options, as it does for a single training.
    """
    with st.expander("Sweep: a grid of configurations, R repeats each, on the same patient folds"):
        name = st.text_input("Sweep name", value="sweep", key="s_name", max_chars=40)
        presets = st.multiselect("Presets", ["quick", "seed"], default=["quick"], key="s_presets")
        labels = {key: spec.label for key, spec in BACKBONES.items()}
        backbones = st.multiselect(
            "Backbones (none: each preset's own)", list(labels), format_func=labels.get, key="s_backbones"
        )
        inputs = st.multiselect("Inputs (none: dual)", ["dual", "mel", "stft"], key="s_inputs")
        per_vowel = st.multiselect(
            "Per vowel (none: off)",
            list(VOWELS),
            key="s_vowels",
            help="Two or more vowels: one configuration per vowel plus one over all of them, on the same "
            "patient folds; the Results page adds their fusion (each patient's probabilities averaged "
            "over its vowels). Compare them by the inner validation patients' AUROC.",
        )
        c1, c2, c3 = st.columns(3)
        repeats = c1.number_input(
            "Repeats per configuration",
            1,
            40,
            2,
            key="s_repeats",
            help="Seed 003 trained its best model 40 times for the 95 % intervals.",
        )
        folds = c2.number_input("Folds", 2, 10, 5, key="s_folds")
        finetune = c3.number_input(
            "Fine-tune epochs (blank: preset's)",
            0,
            400,
            0,
            key="s_finetune",
            help="0 keeps each preset's own number of epochs.",
        )
        backend = st.radio(
            "Backend",
            ["local", "ray"],
            horizontal=True,
            key="s_backend",
            help="ray: the folds and repeats of each configuration train in parallel Ray tasks.",
        )
        n = max(len(presets), 1) * max(len(backbones), 1) * max(len(inputs), 1)
        n *= len(per_vowel) + 1 if len(per_vowel) >= 2 else 1
        st.caption(
            f"{n} configuration(s) × {int(repeats)} repeat(s) × {int(folds)} folds = "
            f"{n * int(repeats) * int(folds)} fold trainings."
        )
        if len(per_vowel) == 1:
            st.caption("Per vowel needs two or more vowels (one vowel alone: the Vowels choice above).")
        if st.button("Start sweep", key="s_start", disabled=not presets or len(per_vowel) == 1):
            options = [f"--preset={p}" for p in presets[1:]] + [f"--backbone={b}" for b in backbones]
            options += ["--per-vowel", ",".join(per_vowel)] if per_vowel else []
            options += [f"--inputs={i}" for i in inputs] + [
                "--repeats",
                str(int(repeats)),
                "--folds",
                str(int(folds)),
            ]
            options += cohort_argv(cohort.source)[2:] if cohort.source is not None else []
            options += ["--backend", backend] + (
                ["--set", f"train.finetune_epochs={int(finetune)}"] if finetune else []
            )
            try:
                submit(
                    runs_root,
                    command="sweep",
                    cohort=cohort.root,
                    name=name or "sweep",
                    preset=presets[0],
                    options=options,
                )
            except CoreError as exc:
                st.error(str(exc))


def sweep_results(runs_root: Path) -> None:
    """Pick a sweep and show its table: mean (95 % interval over repeats) per configuration, DeLong."""
    sweeps = list_sweeps(runs_root)
    st.subheader("Sweeps")
    if not sweeps:
        st.caption(
            "No sweep yet: start one in the Sweep section of the Train page or with `python -m core sweep`."
        )
        return
    chosen = st.selectbox("Sweep", sweeps, format_func=lambda p: p.name, key="r_sweep")
    try:
        manifest = read_sweep(chosen)
        labels = [c["label"] for c in manifest["configurations"]]
        default = labels.index(manifest["reference"]) if manifest["reference"] in labels else 0
        reference = st.selectbox("Reference for DeLong", labels, index=default, key="r_sweep_ref")
        level = st.segmented_control(
            "Sweep level", ["patient", "segment"], default="patient", key="r_sweep_level"
        )
        table = sweep_table(chosen, reference=reference, level=level or "patient")
    except CoreError as exc:
        st.info(str(exc))
        return
    st.caption(
        f"Sweep {manifest['status']} · test metrics at {level or 'patient'} level: mean over repeats "
        "(95 % percentile interval of the repeats' fold means, as seed 003's table); DeLong: AUROC "
        f"difference to {reference!r} and two-sided p on the patients' repeat-averaged probabilities. "
        "val_auroc_mean: the inner validation patients' AUROC, mean over folds and repeats (compare "
        "configurations by this, not by test AUROC). 'fused per vowel' rows (patient level only): each "
        "patient's probabilities from the one-vowel runs averaged per repeat × fold over the vowels it has."
    )
    st.dataframe(table[TABLE_COLUMNS], hide_index=True, width="stretch")
    st.download_button(
        "Download sweep table (CSV)", table.to_csv(index=False), f"{chosen.name}.csv", "text/csv"
    )
