"""A stored run as one typed object: its manifest, config, tables, fold models and dataset.

Every reader of a run (explanations, the patient view, prediction, results, the report
and the pages) starts from :func:`load_run` and asks the :class:`Run`:

- ``run.info`` is the manifest as a :class:`Manifest` (config parsed once, fold keys as
  :class:`~core.folds.FoldKey`); ``run.manifest`` keeps the JSON as stored;
- ``run.fold(key)`` checks that a fold finished and names it;
- ``run.model(fold)`` loads that fold's model (size and SHA-256 checked);
- ``run.predictions(...)`` and ``run.threshold(...)`` read the stored predictions and
  the validation-chosen thresholds;
- ``run.dataset()`` rebuilds the segment dataset the run trained on, from its cohort
  (or from a cohort already loaded), refusing a cohort whose fingerprint differs.

This module imports neither TensorFlow nor Keras until a model is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.cohort.classes import ClassNames, class_names
from core.config import ExperimentConfig
from core.errors import RunError
from core.folds import FoldKey, sorted_keys

if TYPE_CHECKING:
    from core.cohort.model import Cohort
    from core.dataset import SegmentDataset
    from core.models.dual import DualModel


@dataclass(frozen=True)
class Manifest:
    """A run's ``manifest.json``, typed (see :mod:`core.runs` for how it is written).

    Attributes
    ----------
    run_id, name, preset : str
    status : str
        As written; :attr:`Run.status` is what to show (a dead "running" run is "failed").
    config : ExperimentConfig
        Parsed once from the stored config.
    config_hash : str
    leaky : bool
        Segment-level (leaky) split.
    data : Mapping
        The cohort's description: ``fingerprint``, ``cohort_dir``, ``cohort_source``,
        ``class_names``, counts (no audio path).
    folds, folds_done : tuple of FoldKey
        Planned and finished folds, in (repeat, fold) order.
    weights, weights_reason : str
        Where the backbone's starting weights came from, and why when not as asked.
    model : Mapping
        The fold models' :class:`~core.models.dual.ModelInfo` (without trainable layers).
    timings, summary : Mapping
    error : str
    """

    run_id: str
    name: str
    preset: str
    status: str
    config: ExperimentConfig
    config_hash: str
    leaky: bool
    data: Mapping[str, Any]
    folds: tuple[FoldKey, ...]
    folds_done: tuple[FoldKey, ...]
    weights: str
    weights_reason: str
    model: Mapping[str, Any]
    timings: Mapping[str, Any]
    summary: Mapping[str, Any]
    error: str

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Manifest:
        """Parse a manifest as read from disk (old runs lack some keys; they read as empty)."""
        return cls(
            run_id=str(raw.get("run_id", "")),
            name=str(raw.get("name", "")),
            preset=str(raw.get("preset", "")),
            status=str(raw.get("status", "")),
            config=ExperimentConfig.from_dict(raw["config"]),
            config_hash=str(raw.get("config_hash", "")),
            leaky=bool(raw.get("leaky")),
            data=dict(raw.get("data") or {}),
            folds=tuple(FoldKey.parse(k) for k in sorted_keys(raw.get("folds", []))),
            folds_done=tuple(FoldKey.parse(k) for k in sorted_keys(raw.get("folds_done", []))),
            weights=str(raw.get("weights") or ""),
            weights_reason=str(raw.get("weights_reason") or ""),
            model=dict(raw.get("model") or {}),
            timings=dict(raw.get("timings") or {}),
            summary=dict(raw.get("summary") or {}),
            error=str(raw.get("error") or ""),
        )

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the cohort the run trained on ("" for runs that predate it)."""
        return str(self.data.get("fingerprint") or "")

    @property
    def class_names(self) -> ClassNames:
        """(label 0, label 1) names; well/poor for runs that predate stored names."""
        return class_names(self.data)


@dataclass
class Run:
    """A run loaded for reading: manifest, tables, and the way to its models and dataset.

    Attributes
    ----------
    path : Path
    manifest : dict
        The manifest as stored (JSON); :attr:`info` is the typed view.
    status : str
        :func:`core.runs.effective_status`.
    epochs, folds, segment_predictions, patient_predictions : pd.DataFrame
        The CSVs (empty tables when missing).
    """

    path: Path
    manifest: dict[str, Any]
    status: str
    epochs: pd.DataFrame
    folds: pd.DataFrame
    segment_predictions: pd.DataFrame
    patient_predictions: pd.DataFrame
    _datasets: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @cached_property
    def info(self) -> Manifest:
        """The manifest, typed (parsed on first use)."""
        return Manifest.from_dict(self.manifest)

    @property
    def config(self) -> ExperimentConfig:
        """The run's config (parsed once)."""
        return self.info.config

    @property
    def name(self) -> str:
        """The run folder's name (its id)."""
        return self.path.name

    @property
    def leaky(self) -> bool:
        return bool(self.manifest.get("leaky"))

    @property
    def class_names(self) -> ClassNames:
        return self.info.class_names

    @property
    def summary(self) -> dict[str, Any]:
        """:func:`core.runs.run_summary` of the run folder."""
        from core.runs import run_summary

        return run_summary(self.path)

    @property
    def fold_keys(self) -> tuple[FoldKey, ...]:
        """The finished folds in (repeat, fold) order."""
        return self.info.folds_done

    @property
    def repeats(self) -> int:
        """How many times the cross-validation was repeated."""
        return int(self.config.split.repeats)

    def fold(self, fold: int | str | FoldKey, *, repeat: int = 0) -> FoldKey:
        """The key of a finished fold, from its 0-based number (and repeat), its key or a FoldKey.

        Raises
        ------
        RunError
            When the key is malformed or the fold did not finish.
        """
        key = FoldKey.of(fold, repeat=repeat)
        if key not in self.fold_keys:
            done = [k.key for k in self.fold_keys]
            raise RunError(f"run {self.name}: fold {key.key} is not finished; finished: {done}")
        return key

    def model(self, fold: int | str | FoldKey, *, repeat: int = 0) -> DualModel:
        """The saved model of a fold (imports TensorFlow); see :func:`core.runs.load_fold_model`."""
        from core.runs import load_fold_model

        return load_fold_model(self.path, FoldKey.of(fold, repeat=repeat).key)

    def predictions(
        self, level: str = "segment", *, fold: int | str | FoldKey | None = None, part: str | None = None
    ) -> pd.DataFrame:
        """Stored predictions of a level, optionally of one fold and one part.

        Parameters
        ----------
        level : {"segment", "patient"}
        fold : int, str or FoldKey, optional
        part : {"train", "val", "test"}, optional

        Returns
        -------
        pd.DataFrame
            ``repeat, fold, part, patient_id, label, prob`` (+ ``segment_id, recording_id``
            for segments, ``n_segments`` for patients); empty when none are stored.
        """
        table = self.patient_predictions if level == "patient" else self.segment_predictions
        if table.empty:
            return table
        keep = pd.Series(True, index=table.index)
        if fold is not None:
            key = FoldKey.of(fold)
            keep &= (table["repeat"] == key.repeat) & (table["fold"] == key.fold)
        if part is not None:
            keep &= table["part"] == part
        return table[keep]

    def thresholds(self, *, level: str) -> pd.DataFrame:
        """Validation-chosen threshold of every finished fold: ``repeat, fold, threshold``."""
        if self.folds.empty:
            return pd.DataFrame(columns=["repeat", "fold", "threshold"])
        rows = self.folds[(self.folds["level"] == level) & (self.folds["part"] == "test")]
        return rows[["repeat", "fold", "threshold"]].reset_index(drop=True)

    def threshold(self, fold: int | str | FoldKey, *, level: str) -> float:
        """One fold's validation-chosen threshold at a level.

        Raises
        ------
        RunError
            When ``folds.csv`` holds no such row.
        """
        key = FoldKey.of(fold)
        table = self.thresholds(level=level)
        row = table[(table["repeat"] == key.repeat) & (table["fold"] == key.fold)]
        if row.empty:
            raise RunError(f"run {self.name}: no {level}-level threshold for fold {key.key} in folds.csv")
        return float(row["threshold"].iloc[0])

    def dataset(self, *, cohort: Cohort | None = None, cache_dir: Path | None = None) -> SegmentDataset:
        """The segment dataset the run was trained on, rebuilt once per Run and cache folder.

        Parameters
        ----------
        cohort : Cohort, optional
            An already loaded cohort (no second load); default: the run's own cohort
            source (folder and label mapping) from the manifest.
        cache_dir : Path, optional
            Preprocessing cache; default the workspace's, as training's.

        Raises
        ------
        RunError
            When the cohort is gone, or is not the one the run was trained on (fingerprint).
        """
        if cohort is not None:
            self._check_cohort(cohort)
        # With a fingerprint, every accepted cohort is the run's: one dataset per cache folder.
        memo = cache_dir if self.info.fingerprint else (cohort.fingerprint() if cohort else None, cache_dir)
        if memo not in self._datasets:
            self._datasets[memo] = (
                self._dataset_of(cohort, cache_dir) if cohort is not None else self._own_dataset(cache_dir)
            )
        return self._datasets[memo]

    def _check_cohort(self, cohort: Cohort) -> None:
        expected = self.info.fingerprint
        if expected and cohort.fingerprint() != expected:
            raise RunError(
                f"run {self.name} was trained on another cohort (or this one changed since); "
                "choose the run's cohort in the sidebar"
            )

    def _dataset_of(self, cohort: Cohort, cache_dir: Path | None) -> SegmentDataset:
        from core.dataset import build_dataset
        from core.workspace import cache_dir as default_cache_dir

        return build_dataset(cohort, self.config.preprocess, cache_dir=cache_dir or default_cache_dir())

    def _own_dataset(self, cache_dir: Path | None) -> SegmentDataset:
        from core.cohort import CohortSource
        from core.training_data import load_training_data

        source = CohortSource.from_run_data(dict(self.info.data))
        if not Path(source.root).is_dir():
            raise RunError(
                f"run {self.name}: its cohort folder {source.root} is gone; the images cannot be rebuilt"
            )
        dataset, data = load_training_data(source, self.config, cache_dir=cache_dir)
        if data["fingerprint"] != self.info.fingerprint:
            raise RunError(
                f"run {self.name}: the cohort at {source.root} changed since training (fingerprint differs)"
            )
        return dataset


def load_run(run: str | Path, *, root: str | Path | None = None) -> Run:
    """Load a run's manifest and tables (no model; see :meth:`Run.model`).

    Parameters
    ----------
    run : str or Path
        Run folder, id or unique name (:func:`core.runs.find_run`).
    root : path, optional
        The run store.
    """
    from core.runs import effective_status, find_run, read_manifest

    path = find_run(run, root=root)
    manifest = read_manifest(path)

    def table(name: str) -> pd.DataFrame:
        file = path / name
        return pd.read_csv(file) if file.is_file() else pd.DataFrame()

    return Run(
        path=path,
        manifest=manifest,
        status=effective_status(manifest, path),
        epochs=table("epochs.csv"),
        folds=table("folds.csv"),
        segment_predictions=table("predictions_segments.csv"),
        patient_predictions=table("predictions_patients.csv"),
    )


__all__ = ["Manifest", "Run", "load_run"]
