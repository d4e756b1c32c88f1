"""Sweeps: a grid of presets × backbones × inputs × settings, R repeats each, on the same patient folds.

Each configuration of the grid is trained as a normal run folder (``R`` repeats of the
cross-validation, so its repeats give a 95 % interval as in seed 003, which trained the
best model 40 times); a sweep folder ``<runs root>/_sweeps/<stamp>-<name>/sweep.json``
ties them together. Every configuration uses the same split settings (kind, folds,
validation ratio, seed), so on the same cohort all configurations see the same patients
in every test fold, and their patient predictions can be compared pairwise (DeLong).

:func:`sweep_table` gives one row per configuration: the test metrics at patient (or
segment) level as mean and percentile 95 % interval over the repeats (each repeat's value
is the mean of its folds), and DeLong's test against a reference configuration on the
patients' out-of-fold probabilities averaged over repeats.

Training the grid, and resuming a sweep that stopped, is :mod:`core.sweep_training`.
This module imports neither TensorFlow nor Ray.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.config import ExperimentConfig, preset, with_overrides
from core.errors import ConfigError, RunError

SWEEPS = "_sweeps"
SWEEP_FILE = "sweep.json"


@dataclass(frozen=True)
class SweepSpec:
    """The grid of a sweep.

    Attributes
    ----------
    presets : tuple of str
        Presets ("seed", "quick") the grid starts from.
    backbones, inputs : tuple of str
        Empty: the preset's own.
    settings : dict of str to dict
        Named override sets, e.g. ``{"lr3": {"train.finetune_lr": 1e-3}}``; empty: none.
    repeats : int
        Repeats of the cross-validation per configuration (split seeds seed..seed+R-1).
    common : dict
        Overrides applied to every configuration (folds, epochs, image size, ...).
    """

    presets: tuple[str, ...] = ("quick",)
    backbones: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    repeats: int = 2
    common: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepSpec:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def configurations(spec: SweepSpec) -> list[tuple[str, ExperimentConfig]]:
    """Every (label, config) of the grid, in grid order; labels such as ``quick-small_cnn-dual-lr3``.

    Raises
    ------
    ConfigError
        When the grid is empty, a setting is unknown or invalid, or the configurations
        would not share their patient folds.
    """
    if spec.repeats < 1:
        raise ConfigError(f"sweep repeats={spec.repeats}; expected >= 1")
    if not spec.presets:
        raise ConfigError("a sweep needs at least one preset")
    grid = itertools.product(
        spec.presets,
        spec.backbones or (None,),
        spec.inputs or (None,),
        list(spec.settings.items()) or [("", {})],
    )
    out: list[tuple[str, ExperimentConfig]] = []
    for name, backbone, inputs, (setting, overrides) in grid:
        changes: dict[str, Any] = {**spec.common, **overrides, "split.repeats": spec.repeats}
        if backbone:
            changes["model.backbone"] = backbone
        if inputs:
            changes["model.inputs"] = inputs
        config = with_overrides(preset(name), changes)
        label = "-".join(p for p in (name, config.model.backbone, config.model.inputs, setting) if p)
        out.append((label, config))
    labels = [label for label, _ in out]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"sweep configurations repeat: {labels}")
    splits = {c.split for _, c in out}
    if len(splits) > 1:
        raise ConfigError(
            "sweep configurations must share the split settings (same patient folds); "
            "put split.* overrides in the common settings"
        )
    return out


def sweeps_root(runs_root: str | Path | None = None) -> Path:
    """The folder of the sweep manifests inside the run store."""
    from core.runs import runs_root as root_of

    return root_of(runs_root) / SWEEPS


def read_sweep(sweep_dir: str | Path) -> dict[str, Any]:
    """The ``sweep.json`` of a sweep folder.

    Raises
    ------
    RunError
        When it is missing or unreadable.
    """
    import json

    path = Path(sweep_dir) / SWEEP_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunError(f"sweep {Path(sweep_dir).name}: cannot read {SWEEP_FILE}: {exc}") from None


def write_sweep(sweep_dir: Path, manifest: dict[str, Any]) -> None:
    """Write ``sweep.json`` atomically."""
    from core.runs import atomic_write_json

    atomic_write_json(sweep_dir / SWEEP_FILE, manifest)


def list_sweeps(runs_root: str | Path | None = None) -> list[Path]:
    """Sweep folders, newest first."""
    base = sweeps_root(runs_root)
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if (p / SWEEP_FILE).is_file()), reverse=True)


def sweep_runs(
    sweep_dir: str | Path, *, root: str | Path | None = None
) -> Iterator[tuple[dict[str, Any], Path | None]]:
    """Each configuration entry of a sweep with its run folder (None when it has none)."""
    runs_base = Path(sweep_dir).resolve().parents[1] if root is None else Path(root)
    for entry in read_sweep(sweep_dir)["configurations"]:
        run_dir = runs_base / entry["run_id"] if entry.get("run_id") else None
        yield entry, run_dir if run_dir is not None and run_dir.is_dir() else None


def _patient_oof(run_dir: Path) -> pd.DataFrame:
    """Test probability per patient averaged over repeats: ``patient_id, label, prob``."""
    table = pd.read_csv(run_dir / "predictions_patients.csv")
    test = table[table["part"] == "test"]
    return test.groupby("patient_id").agg(label=("label", "first"), prob=("prob", "mean")).reset_index()


def sweep_table(
    sweep_dir: str | Path, *, reference: str = "", level: str = "patient", level_ci: float = 0.95
) -> pd.DataFrame:
    """One row per configuration: test metrics, mean and 95 % interval over repeats; DeLong vs reference.

    Parameters
    ----------
    sweep_dir : path
    reference : str
        Label of the reference configuration (default: the sweep's).
    level : {"patient", "segment"}
        Level of the metrics; DeLong is always on patients.

    Returns
    -------
    table : pd.DataFrame
        ``configuration, status, repeats, folds``; for each metric ``m`` of
        :data:`core.metrics.METRIC_COLUMNS`: ``m_mean``, ``m_low``, ``m_high`` (percentile
        interval of the repeats' means; NaN with one repeat) and ``m`` as
        "0.994 (0.992-0.995)"; ``val_auroc_mean`` (AUROC of the inner validation part at
        the same level, mean over folds then repeats: what a choice between rows may use);
        then ``delong_diff`` (AUROC of the configuration minus the reference's, on
        repeat-averaged patient probabilities), ``delong_p`` (two-sided) and ``reference``
        (True on the reference row). At patient level, every group of one-vowel
        configurations that differ only in their vowel (a ``--per-vowel`` sweep) adds a
        row "fused per vowel (A+I+U+E) · <base>": the members' patient probabilities
        averaged per repeat × fold × part (:func:`core.vowel_fusion.fuse_runs`), status
        "partial" while a member is unfinished, "not fused: <reason>" when refused.
    """
    from core.baseline.delong import delong_test
    from core.runs import fold_table

    manifest = read_sweep(sweep_dir)
    reference = reference or manifest.get("reference", "")
    rows: list[dict[str, Any]] = []
    oof: dict[str, pd.DataFrame] = {}
    for entry, run_dir in sweep_runs(sweep_dir):
        row: dict[str, Any] = {"configuration": entry["label"], "status": entry["status"]}
        folds = fold_table(run_dir) if run_dir is not None else pd.DataFrame()
        row.update(_metric_cells(folds, level=level, level_ci=level_ci))
        if run_dir is not None and (run_dir / "predictions_patients.csv").is_file():
            oof[entry["label"]] = _patient_oof(run_dir)
        rows.append(row)
    if level == "patient":
        _add_fusions(sweep_dir, rows, oof, level_ci=level_ci)
    table = pd.DataFrame(rows)
    table["reference"] = table["configuration"] == reference
    table["delong_diff"], table["delong_p"] = np.nan, np.nan
    if reference in oof:
        ref = oof[reference]
        for i, label in enumerate(table["configuration"]):
            if label == reference or label not in oof:
                continue
            both = ref.merge(oof[label], on=["patient_id", "label"], suffixes=("_ref", ""))
            if both["label"].nunique() < 2:
                continue
            result = delong_test(
                both["label"].to_numpy(int), both["prob"].to_numpy(), both["prob_ref"].to_numpy()
            )
            table.loc[i, ["delong_diff", "delong_p"]] = [result.difference, result.p_value]
    return table


def _metric_cells(folds: pd.DataFrame, *, level: str, level_ci: float) -> dict[str, Any]:
    """``repeats, folds``, the test metrics' mean / interval / cell, and ``val_auroc_mean``.

    Parameters
    ----------
    folds : pd.DataFrame
        Per-fold metrics (``folds.csv`` rows: ``repeat, level, part`` and the metrics); may be empty.
    """
    from core.metrics import METRIC_COLUMNS, percentile_ci

    test = folds[(folds["part"] == "test") & (folds["level"] == level)] if not folds.empty else folds
    per_repeat = test.groupby("repeat")[list(METRIC_COLUMNS)].mean() if len(test) else pd.DataFrame()
    row: dict[str, Any] = {"repeats": int(len(per_repeat)), "folds": int(len(test))}
    for metric in METRIC_COLUMNS:
        values = per_repeat[metric].to_numpy(dtype=float) if len(per_repeat) else np.array([])
        mean = float(np.nanmean(values)) if values.size and not np.isnan(values).all() else float("nan")
        low, high = percentile_ci(values, level=level_ci) if values.size > 1 else (float("nan"),) * 2
        row.update({f"{metric}_mean": mean, f"{metric}_low": low, f"{metric}_high": high})
        row[metric] = _cell(mean, low, high)
    val = folds[(folds["part"] == "val") & (folds["level"] == level)] if not folds.empty else folds
    val_auroc = val.groupby("repeat")["auroc"].mean().to_numpy(dtype=float) if len(val) else np.array([])
    row["val_auroc_mean"] = float(np.nanmean(val_auroc)) if np.isfinite(val_auroc).any() else float("nan")
    return row


def _add_fusions(
    sweep_dir: str | Path, rows: list[dict[str, Any]], oof: dict[str, pd.DataFrame], *, level_ci: float
) -> None:
    """Append a row per group of one-vowel runs (:mod:`core.vowel_fusion`) after the configurations."""
    from core.vowel_fusion import (
        VowelFusionError,
        fuse_runs,
        fused_label,
        repeat_averaged_test,
        sweep_vowel_groups,
    )

    status_of = {run_dir.name: entry["status"] for entry, run_dir in sweep_runs(sweep_dir) if run_dir}
    for base, members in sweep_vowel_groups(sweep_dir):
        label = fused_label(base, list(members))
        statuses = [status_of.get(p.name) for p in members.values()]
        row: dict[str, Any] = {"configuration": label, "status": "complete"}
        try:
            fusion = fuse_runs(members)
        except VowelFusionError as exc:
            empty = _metric_cells(pd.DataFrame(), level="patient", level_ci=level_ci)
            rows.append({**row, **empty, "status": f"not fused: {exc}"})
            continue
        if any(s != "complete" for s in statuses):
            row["status"] = "partial"
        row.update(_metric_cells(fusion.folds, level="patient", level_ci=level_ci))
        oof[label] = repeat_averaged_test(fusion.patients)
        rows.append(row)


def _cell(mean: float, low: float, high: float) -> str:
    if np.isnan(mean):
        return "n/a"
    if np.isnan(low):
        return f"{mean:.3f}"
    return f"{mean:.3f} ({low:.3f}-{high:.3f})"


def parse_setting(text: str) -> tuple[str, dict[str, Any]]:
    """``"lr3:train.finetune_lr=1e-3,train.patience=5"`` → ``("lr3", {...})`` (values read as JSON).

    Raises
    ------
    ConfigError
        When the text is not ``NAME:KEY=VALUE[,KEY=VALUE...]``.
    """
    import json

    name, sep, body = text.partition(":")
    if not sep or not re.fullmatch(r"[A-Za-z0-9_.]+", name.strip()) or not body.strip():
        raise ConfigError(f"sweep setting {text!r}; expected NAME:KEY=VALUE[,KEY=VALUE...]")
    overrides: dict[str, Any] = {}
    for item in body.split(","):
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"sweep setting {text!r}: {item!r} is not KEY=VALUE")
        try:
            overrides[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[key.strip()] = raw.strip()
    return name.strip(), overrides


__all__ = [
    "SweepSpec",
    "configurations",
    "list_sweeps",
    "parse_setting",
    "read_sweep",
    "sweep_runs",
    "sweep_table",
    "sweeps_root",
    "write_sweep",
]
