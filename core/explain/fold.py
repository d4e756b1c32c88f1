"""Explanations of one fold of a stored run, computed once and cached in the run folder.

:func:`~core.explain.fold_data.load_fold` gathers what a fold's explanations need from
the run (:class:`~core.explain.fold_data.FoldData`). :class:`FoldExplainer` answers the pages' and the
CLI's questions — case picks, maps of a method for some segments, branch masking,
occlusion tables and their aggregates, faithfulness, plain-language summaries — each
through :class:`ExplainStore`, so nothing is computed twice for the same model file
and settings.

Scopes follow the study: masking and occlusion cover the fold's TEST segments; maps
and faithfulness cover the segments asked for (by default the case picks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ExplainError
from core.explain.cases import pick_cases, select_segments
from core.explain.faithfulness import deletion_insertion, faithfulness_summary, randomisation_check
from core.explain.fold_data import FoldData, cached_masking_table, fold_keys, load_fold, model_key
from core.explain.gradcam import delta_cam
from core.explain.masking import branch_masking, masking_summary, mean_image
from core.explain.occlusion import aggregate_occlusion, occlusion_table
from core.explain.store import ExplainStore
from core.explain.summary import Summary, summarise
from core.segment_names import segment_names

#: Methods whose two branches share units, so ΔCAM is stored beside their maps.
DELTA_METHODS: tuple[str, ...] = ("gradcam", "gradcampp")

Progress = Callable[[str], None]
#: ``on_segments(done, total)``: segments computed so far out of those missing from the cache.
SegmentProgress = Callable[[int, int], None]


class FoldExplainer:
    """Cached explanations of one fold.

    Parameters
    ----------
    data : FoldData
    store : ExplainStore, optional
        Default: the run folder's.
    """

    def __init__(self, data: FoldData, *, store: ExplainStore | None = None) -> None:
        self.data = data
        self.store = store or ExplainStore(data.run_dir)
        self.fold = data.fold.fold

    def segment_name(self, segment_id: int) -> str:
        """The segment's name for people ("P07_S1 · window 9", :mod:`core.segment_names`)."""
        return segment_names(self.data.segments, [segment_id])[0]

    def cache_params(self, **params: Any) -> dict[str, Any]:
        """The cache key of a stored table or map of this fold: fold, model version and settings."""
        return {"fold": self.data.fold_key, "model": self.data.model_key, **params}

    def _pair(self, ids: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        ids = np.asarray(ids, dtype=int)
        n = self.data.segments.shape[0]
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            raise ExplainError(f"segment ids {ids[(ids < 0) | (ids >= n)][:5].tolist()} outside 0..{n - 1}")
        branches = tuple(self.data.model.branches)
        mel = np.asarray(self.data.mel[ids]) if "mel" in branches else None
        stft = np.asarray(self.data.stft[ids]) if "stft" in branches else None
        return mel, stft

    def cases(self, *, k: int = 10) -> pd.DataFrame:
        """k test segments per confusion cell (:func:`core.explain.pick_cases`)."""
        return self.store.table(
            self.fold,
            "cases",
            self.cache_params(k=k, threshold=self.data.threshold),
            lambda: pick_cases(self.data.predictions, threshold=self.data.threshold, k=k),
        )

    def maps(self, method: str, segment_ids: Sequence[int], **params: Any) -> dict[str, np.ndarray]:
        """A method's maps for some segments, cached per segment.

        Returns
        -------
        arrays : dict
            ``segment_id`` [shape=(n,)], ``prob`` [shape=(n,)], ``heatmap_<branch>``
            [shape=(n, S, S), float16 in [0, 1]], ``raw_<branch>`` [shape=(n, h, w),
            float32]; for Grad-CAM and Grad-CAM++ of a dual model also ``delta``
            [shape=(n, S, S), float16 in [-1, 1], on :func:`core.explain.cam_grid.common_grid`
            of the fold's axes] and ``delta_scale`` [shape=(n,)].
        """
        from core.explain import get_explainer

        explainer = get_explainer(method, **params)
        ids = [int(i) for i in segment_ids]
        if not ids:
            raise ExplainError(f"no segment given for {method} maps")
        name = f"maps_{method}"
        grid = {"delta_grid": "hz_ms"} if method in DELTA_METHODS else {}  # ΔCAM on the common Hz × ms grid
        keys = {i: self.cache_params(method_params=explainer.params(), segment_id=i, **grid) for i in ids}
        missing = [i for i in ids if not self.store.has(self.fold, name, keys[i], kind="arrays")]
        if missing:
            mel, stft = self._pair(np.array(missing))
            explanation = explainer.explain(self.data.model, mel, stft)
            delta = None
            if method in DELTA_METHODS and set(explanation) == {"mel", "stft"}:
                delta = delta_cam(explanation["mel"], explanation["stft"], axes=self.data.axes)
            for j, i in enumerate(missing):
                arrays: dict[str, np.ndarray] = {
                    "segment_id": np.array([i]),
                    "prob": explanation[next(iter(explanation))].prob[j : j + 1],
                }
                for b, e in explanation.items():
                    arrays[f"heatmap_{b}"] = e.heatmap[j : j + 1].astype(np.float16)
                    arrays[f"raw_{b}"] = e.raw[j : j + 1]
                if delta is not None:
                    arrays["delta"] = delta[0][j : j + 1].astype(np.float16)
                    arrays["delta_scale"] = delta[1][j : j + 1]
                self.store.save_arrays(self.fold, name, keys[i], arrays)
        parts = [self.store.load_arrays(self.fold, name, keys[i]) for i in ids]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def masking(self, *, baseline: str = "black") -> pd.DataFrame:
        """Branch masking of every test segment.

        Parameters
        ----------
        baseline : {"black", "mean"}
            All-zero image, or the mean image of the fold's training segments per branch.
        """
        if baseline not in ("black", "mean"):
            raise ExplainError(f"masking baseline={baseline!r}; expected black or mean")

        def compute() -> pd.DataFrame:
            ids = self.data.predictions["segment_id"].to_numpy(dtype=int)
            mel, stft = self._pair(ids)
            base: Any = "black"
            if baseline == "mean":
                base = {
                    b: mean_image(
                        np.asarray({"mel": self.data.mel, "stft": self.data.stft}[b])[self.data.train_ids]
                    )
                    for b in self.data.model.branches
                }
            table = branch_masking(self.data.model, mel, stft, baseline=base, segment_ids=ids)
            return table.merge(self.data.predictions[["segment_id", "patient_id", "label"]], on="segment_id")

        return self.store.table(self.fold, "masking", self.cache_params(baseline=baseline), compute)

    def masking_summary(self, *, baseline: str = "black") -> pd.DataFrame:
        """The study's per-fold row (``mel_branch_mean``, ``stft_branch_mean``)."""
        return masking_summary(self.masking(baseline=baseline), fold=self.fold).assign(
            fold_key=self.data.fold_key, baseline=baseline
        )

    def occlusion(
        self,
        *,
        bands: int = 10,
        chunks: int = 10,
        fill: str | float = "mean",
        on_segments: SegmentProgress | None = None,
    ) -> pd.DataFrame:
        """Occlusion Δprob of every band and chunk of every test segment (long table)."""
        params = self.cache_params(bands=bands, chunks=chunks, fill=fill)
        ids = self.data.predictions["segment_id"].to_numpy(dtype=int)
        return self.store.table(
            self.fold,
            "occlusion",
            params,
            lambda: self._occlusion_rows(ids, params, keep_segments=False, on_segments=on_segments),
        )

    def occlusion_of(
        self,
        segment_ids: Sequence[int],
        *,
        bands: int = 10,
        chunks: int = 10,
        fill: str | float = "mean",
        on_segments: SegmentProgress | None = None,
    ) -> pd.DataFrame:
        """Occlusion rows of some test segments, computing only what no cache holds.

        Rows come from the fold's table when it is cached; otherwise each segment's rows
        come from its own cache entry, and the missing segments are occluded in batched
        groups and cached one by one. A patient or a confusion cell therefore costs its
        own segments, never the whole fold.

        Parameters
        ----------
        segment_ids : sequence of int
        bands, chunks : int
        fill : {"mean", "black"} or float
        on_segments : callable, optional
            ``on_segments(done, total)`` after each computed group (for a progress bar).

        Returns
        -------
        table : pd.DataFrame
            :func:`core.explain.occlusion_table` rows, segments in the order asked.
        """
        ids = np.asarray([int(i) for i in segment_ids], dtype=int)
        params = self.cache_params(bands=bands, chunks=chunks, fill=fill)
        full = self.store.load_table(self.fold, "occlusion", params)
        if full is not None:
            order = {int(i): k for k, i in enumerate(ids)}
            rows = full[full["segment_id"].isin(order)]
            return rows.sort_values("segment_id", key=lambda c: c.map(order), kind="stable").reset_index(
                drop=True
            )
        return self._occlusion_rows(ids, params, keep_segments=True, on_segments=on_segments)

    def _occlusion_rows(
        self,
        ids: np.ndarray,
        params: dict[str, Any],
        *,
        keep_segments: bool,
        on_segments: SegmentProgress | None,
    ) -> pd.DataFrame:
        def entry(i: int) -> dict[str, Any]:
            return {**params, "segment_id": int(i)}

        tables = {int(i): self.store.load_table(self.fold, "occlusion_segment", entry(i)) for i in ids}
        missing = [i for i, t in tables.items() if t is None]
        settings = {k: params[k] for k in ("bands", "chunks", "fill")}
        # Groups of 16 segments: one batched call each, memory bounded on a large fold.
        for start in range(0, len(missing), 16):
            part = np.asarray(missing[start : start + 16])
            mel, stft = self._pair(part)
            table = occlusion_table(
                self.data.model, mel, stft, axes=self.data.axes, segment_ids=part, **settings
            )
            for i in part:
                rows = table[table["segment_id"] == i].reset_index(drop=True)
                tables[int(i)] = rows
                if keep_segments:
                    self.store.save_table(self.fold, "occlusion_segment", entry(i), rows)
            if on_segments is not None:
                on_segments(min(start + 16, len(missing)), len(missing))
        if not tables:
            raise ExplainError(f"fold {self.data.fold_key}: no test segment to occlude")
        return pd.concat([tables[int(i)] for i in ids], ignore_index=True)

    def segment_occlusion(
        self, segment_id: int, *, bands: int = 10, chunks: int = 10, fill: str | float = "mean"
    ) -> pd.DataFrame:
        """Occlusion rows of one test segment (:meth:`occlusion_of` of that segment)."""
        return self.occlusion_of([segment_id], bands=bands, chunks=chunks, fill=fill)

    def occlusion_summary(
        self,
        *,
        segment_id: int | None = None,
        patient_id: str | None = None,
        cell: str | None = None,
        on_segments: SegmentProgress | None = None,
        **params: Any,
    ) -> pd.DataFrame:
        """Occlusion aggregated over one scope: a segment, a patient, a confusion cell, or the fold.

        Only the scope's segments are occluded (and cached); the fold scope fills the
        fold's table.
        """
        ids = select_segments(
            self.data.predictions,
            threshold=self.data.threshold,
            segment_id=segment_id,
            patient_id=patient_id,
            cell=cell,
        )
        whole = segment_id is None and patient_id is None and cell is None
        if whole:
            table = self.occlusion(on_segments=on_segments, **params)
        else:
            table = self.occlusion_of(ids, on_segments=on_segments, **params)
        scope = (
            self.segment_name(segment_id)
            if segment_id is not None
            else f"patient {patient_id}"
            if patient_id is not None
            else cell
            if cell is not None
            else str(self.data.fold)
        )
        return aggregate_occlusion(table[table["segment_id"].isin(ids)], scope=scope)

    def faithfulness(
        self,
        method: str,
        segment_ids: Sequence[int],
        *,
        steps: int = 20,
        random_orders: int = 2,
        **params: Any,
    ) -> pd.DataFrame:
        """Deletion/insertion AUCs vs random and the randomisation correlation, per segment and branch."""
        from core.explain import get_explainer

        ids = np.asarray([int(i) for i in segment_ids])
        explainer = get_explainer(method, **params)

        def compute() -> pd.DataFrame:
            mel, stft = self._pair(ids)
            explanation = explainer.explain(self.data.model, mel, stft)
            curves = deletion_insertion(
                self.data.model,
                mel,
                stft,
                {b: e.heatmap for b, e in explanation.items()},
                steps=steps,
                random_orders=random_orders,
                target=explainer.target,
                segment_ids=ids,
            )
            sanity = randomisation_check(
                self.data.model, mel, stft, explainer, segment_ids=ids, trained=explanation
            )
            return curves.merge(
                sanity[["segment_id", "branch", "spearman", "differs"]], on=["segment_id", "branch"]
            )

        key = self.cache_params(
            method=method,
            method_params=explainer.params(),
            steps=steps,
            random_orders=random_orders,
            segments=ids.tolist(),
        )
        return self.store.table(self.fold, f"faithfulness_{method}", key, compute)

    def faithfulness_summary(self, method: str, segment_ids: Sequence[int], **params: Any) -> pd.DataFrame:
        """One row per branch of :meth:`faithfulness` (see :func:`core.explain.faithfulness_summary`)."""
        table = self.faithfulness(method, segment_ids, **params)
        return faithfulness_summary(table, table[["segment_id", "branch", "spearman"]], method=method)

    def faithfulness_overview(
        self, methods: Sequence[str], segment_ids: Sequence[int], **params: Any
    ) -> pd.DataFrame:
        """:meth:`faithfulness_summary` of several methods in one table, so users see which map to believe."""
        return pd.concat(
            [self.faithfulness_summary(m, segment_ids, **params) for m in methods], ignore_index=True
        )

    def summary(
        self, *, segment_id: int | None = None, patient_id: str | None = None, **params: Any
    ) -> Summary:
        """Plain-language summary of one test segment or one patient's test segments."""
        if (segment_id is None) == (patient_id is None):
            raise ExplainError("summary of exactly one of segment_id or patient_id")
        ids = select_segments(self.data.predictions, segment_id=segment_id, patient_id=patient_id)
        preds = self.data.predictions.set_index("segment_id").loc[ids]
        masking = self.masking(baseline=params.pop("baseline", "black"))
        occlusion = self.occlusion_of(ids, **params)
        subject = self.segment_name(segment_id) if segment_id is not None else f"patient {patient_id}"
        return summarise(
            prob=preds["prob"].to_numpy(),
            threshold=self.data.threshold,
            masking=masking[masking["segment_id"].isin(ids)],
            occlusion=occlusion[occlusion["segment_id"].isin(ids)],
            subject=subject,
            class_names=self.data.class_names,
        )

    def precompute(
        self,
        *,
        k: int = 10,
        methods: Sequence[str] = ("gradcam",),
        baseline: str = "black",
        faithfulness: bool = False,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Case picks, their maps per method, masking and occlusion tables (and faithfulness).

        Returns
        -------
        done : dict
            Counts of what is now cached.
        """
        say = progress or (lambda _: None)
        cases = self.cases(k=k)
        say("cases")
        ids = cases["segment_id"].drop_duplicates().to_numpy(dtype=int)
        for method in methods:
            self.maps(method, ids)
            say(f"maps {method}")
        self.masking(baseline=baseline)
        say("masking")
        self.occlusion()
        say("occlusion")
        if faithfulness:
            for method in methods:
                self.faithfulness(method, ids)
                say(f"faithfulness {method}")
        return {
            "fold": self.data.fold_key,
            "cases": int(ids.size),
            "test_segments": int(self.data.predictions.shape[0]),
            "methods": list(methods),
            "faithfulness": bool(faithfulness),
        }


__all__ = [
    "DELTA_METHODS",
    "FoldData",
    "FoldExplainer",
    "cached_masking_table",
    "fold_keys",
    "load_fold",
    "model_key",
]
