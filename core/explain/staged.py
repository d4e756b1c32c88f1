"""What the explainers need from a model, and the compiled forward/gradient passes over it.

Every explainer works on a *staged* model: ``prefix`` (frozen part, including the
backbone's input scaling) and ``tail`` (the rest of the backbone) turn images into the
last convolutional feature map, and ``head`` turns one feature map per branch into the
probability of a poor outcome. The backbone is shared by the branches, so one call of
``tail(prefix(images))`` serves mel and STFT images alike, and a pair's probability can
be recombined from feature maps computed once (occlusion and masking rely on that).

Gradients are taken with a ``tf.GradientTape`` around the head (Grad-CAM: d score /
d feature map) or around the whole backbone (saliency, SmoothGrad, Integrated
Gradients: d score / d image); no graph surgery on nested models.

The *score* differentiated is the log-odds of the target class,
``logit(p)`` for target 1 ("poor") and ``-logit(p)`` for target 0 ("well"); unlike the
probability it does not flatten out where the sigmoid saturates.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from core.errors import ExplainError
from core.models.branches import BRANCHES

Target = Literal[0, 1]

#: Probabilities are clipped this far from 0 and 1 before taking the log-odds.
LOGIT_EPS: float = 1e-7


@runtime_checkable
class StagedModel(Protocol):
    """The part of a trained model the explainers use.

    Attributes
    ----------
    branches : tuple of {"mel", "stft"}
        The inputs the head takes, in the order it takes them: ``("mel", "stft")`` for
        the dual model, ``("mel",)`` or ``("stft",)`` for single-branch variants.

    Methods
    -------
    prefix(images)
        ``images`` [shape=(n, S, S, 3), float32, 0..255, row S-1 = lowest frequency]
        → whatever ``tail`` takes (backbone scaling and the frozen layers).
    tail(x)
        → the last feature map before global pooling [shape=(n, h, w, c)].
    head(*maps)
        One feature map per branch, in ``branches`` order → probability of
        outcome 1 ("poor") [shape=(n,) or (n, 1)]. Must run in inference mode
        (dropout off) and be differentiable with respect to the maps.
    """

    branches: tuple[str, ...]

    def prefix(self, images: Any) -> Any: ...

    def tail(self, x: Any) -> Any: ...

    def head(self, *maps: Any) -> Any: ...


def check_model(model: Any) -> tuple[str, ...]:
    """Return the model's branches, or raise :class:`ExplainError` naming what is missing."""
    missing = [name for name in ("prefix", "tail", "head") if not callable(getattr(model, name, None))]
    branches = tuple(getattr(model, "branches", ()) or ())
    if missing:
        raise ExplainError(
            f"model {type(model).__name__} has no {', '.join(missing)}; expected a staged model "
            "with prefix(images), tail(x) -> feature map, head(*maps) -> probability"
        )
    if not branches or any(b not in BRANCHES for b in branches) or len(set(branches)) != len(branches):
        raise ExplainError(
            f"model {type(model).__name__} has branches={branches!r}; expected a non-empty "
            f"ordered subset of {BRANCHES}"
        )
    return branches


def check_pair(mel: np.ndarray | None, stft: np.ndarray | None, branches: Sequence[str]) -> int:
    """Validate the image arrays a model needs and return the number of segments.

    Parameters
    ----------
    mel, stft : np.ndarray [shape=(n, S, S, 3)] or None
        0..255 images; an array may be None only when the model lacks that branch.
    branches : sequence of str
        The model's branches.

    Returns
    -------
    n : int
    """
    arrays = {"mel": mel, "stft": stft}
    n: int | None = None
    size: tuple[int, ...] | None = None
    for branch in branches:
        images = arrays[branch]
        if images is None:
            raise ExplainError(f"the model takes {branch} images but {branch}=None was given")
        shape = tuple(np.shape(images))
        if len(shape) != 4 or shape[-1] != 3 or shape[1] != shape[2]:
            raise ExplainError(f"{branch} images of shape {shape}; expected (n, S, S, 3)")
        if n is None:
            n, size = shape[0], shape[1:]
        elif shape[0] != n or shape[1:] != size:
            raise ExplainError(
                f"{branch} images of shape {shape}; expected the other branch's shape ({n}, *{size})"
            )
    return int(n or 0)


def target_score(prob: Any, target: int) -> Any:
    """Log-odds of the target class: ``logit(p)`` for target 1, ``-logit(p)`` for target 0.

    Parameters
    ----------
    prob : tf.Tensor [shape=(n,)]
    target : {0, 1}
    """
    import tensorflow as tf

    p = tf.clip_by_value(tf.cast(prob, tf.float32), LOGIT_EPS, 1.0 - LOGIT_EPS)
    logit = tf.math.log(p) - tf.math.log1p(-p)
    return logit if target == 1 else -logit


def check_target(target: Any) -> int:
    """Validate a target class (0 = well, 1 = poor)."""
    if target not in (0, 1):
        raise ExplainError(f"target={target!r}; expected 0 (well) or 1 (poor)")
    return int(target)


def chunks(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` over ``range(n)``."""
    for start in range(0, n, max(1, size)):
        yield slice(start, min(n, start + max(1, size)))


class StagedRunner:
    """Compiled passes over one staged model; get one with :func:`runner_for`.

    Parameters
    ----------
    model : StagedModel
    batch_size : int
        Most images sent through the backbone in one call.
    """

    def __init__(self, model: StagedModel, *, batch_size: int = 64) -> None:
        import tensorflow as tf

        self.branches: tuple[str, ...] = check_model(model)
        # A weak reference, so the runner cache (keyed weakly by model) never keeps a model alive.
        try:
            self._model_ref: Any = weakref.ref(model)
        except TypeError:
            self._model_ref = lambda: model
        self.batch_size = int(batch_size)
        self._maps_fn = tf.function(self._maps_impl, reduce_retracing=True)
        self._head_fn = tf.function(self._head_impl, reduce_retracing=True)
        self._cam_fn = tf.function(self._cam_impl, reduce_retracing=True)
        self._input_grad_fns = {
            b: tf.function(self._make_input_grad(b), reduce_retracing=True) for b in self.branches
        }
        self._compiled: dict[str, Any] = {}

    @property
    def model(self) -> StagedModel:
        model = self._model_ref()
        if model is None:
            raise ExplainError(
                "the model of this runner no longer exists; get a new runner with runner_for(model)"
            )
        return model

    def compiled(self, name: str, build: Any) -> Any:
        """A method module's own compiled pass over this model, built once by ``build(runner)``."""
        if name not in self._compiled:
            self._compiled[name] = build(self)
        return self._compiled[name]

    def maps_graph(self, images: Any) -> Any:
        """``tail(prefix(images))`` for use inside a compiled function (images uint8 or float)."""
        return self._maps_impl(images)

    def head_graph(self, *maps: Any) -> Any:
        """The head's probability ``[n]`` for use inside a compiled function."""
        return self._head_impl(*maps)

    def _maps_impl(self, images: Any) -> Any:
        import tensorflow as tf

        # uint8 images cross into the graph 4x smaller than float32 and are cast here.
        return self.model.tail(self.model.prefix(tf.cast(images, tf.float32)))

    def _head_impl(self, *maps: Any) -> Any:
        import tensorflow as tf

        return tf.reshape(tf.cast(self.model.head(*maps), tf.float32), [-1])

    def _cam_impl(self, images: Any, n: Any, target: Any) -> Any:
        import tensorflow as tf

        stacked = self._maps_impl(images)
        maps = [stacked[i * n : (i + 1) * n] for i in range(len(self.branches))]
        with tf.GradientTape() as tape:
            tape.watch(maps)
            prob = self._head_impl(*maps)
            score = tf.where(target == 1, 1.0, -1.0) * target_score(prob, 1)
        grads = tape.gradient(score, maps)
        return maps, grads, prob

    def _make_input_grad(self, branch: str) -> Any:
        index = self.branches.index(branch)

        def input_grad(images: Any, others: Any, target: Any) -> Any:
            import tensorflow as tf

            with tf.GradientTape() as tape:
                tape.watch(images)
                own = self._maps_impl(images)
                maps = list(others)
                maps.insert(index, own)
                prob = self._head_impl(*maps)
                score = tf.where(target == 1, 1.0, -1.0) * target_score(prob, 1)
            return tape.gradient(score, images), prob

        return input_grad

    def feature_maps(self, images: np.ndarray) -> np.ndarray:
        """Backbone feature maps of images of any branch (the backbone is shared).

        Parameters
        ----------
        images : np.ndarray [shape=(m, S, S, 3)]
            0..255.

        Returns
        -------
        maps : np.ndarray [shape=(m, h, w, c), dtype=float32]
        """
        import tensorflow as tf

        images = np.asarray(images)
        if images.shape[0] == 0:
            raise ExplainError("no images to explain (empty batch)")
        out = [
            np.asarray(self._maps_fn(tf.constant(_compact(images[s]))))
            for s in chunks(images.shape[0], self.batch_size)
        ]
        return np.concatenate(out, axis=0)

    def head(self, maps: dict[str, np.ndarray]) -> np.ndarray:
        """Probability of outcome 1 from one feature map per branch.

        Parameters
        ----------
        maps : dict of str to np.ndarray [shape=(m, h, w, c)]
            One entry per model branch, equal ``m``.

        Returns
        -------
        prob : np.ndarray [shape=(m,), dtype=float32]
        """
        import tensorflow as tf

        args = [tf.constant(maps[b], dtype=tf.float32) for b in self.branches]
        return np.asarray(self._head_fn(*args), dtype=np.float32)

    def pair_maps(self, mel: np.ndarray | None, stft: np.ndarray | None) -> dict[str, np.ndarray]:
        """Feature maps of every branch of a pair, the branches sent through the backbone together.

        Returns
        -------
        maps : dict of str to np.ndarray [shape=(n, h, w, c)]
        """
        arrays = {"mel": mel, "stft": stft}
        n = check_pair(mel, stft, self.branches)
        stacked = self.feature_maps(np.concatenate([np.asarray(arrays[b]) for b in self.branches], axis=0))
        return {b: stacked[i * n : (i + 1) * n] for i, b in enumerate(self.branches)}

    def predict(self, mel: np.ndarray | None, stft: np.ndarray | None) -> np.ndarray:
        """Probability of outcome 1 for image pairs, in backbone batches of ``batch_size``.

        Parameters
        ----------
        mel, stft : np.ndarray [shape=(n, S, S, 3)] or None

        Returns
        -------
        prob : np.ndarray [shape=(n,), dtype=float32]
        """
        n = check_pair(mel, stft, self.branches)
        arrays = {"mel": mel, "stft": stft}
        step = max(1, self.batch_size // len(self.branches))
        out = []
        for s in chunks(n, step):
            part = {b: None if arrays[b] is None else np.asarray(arrays[b])[s] for b in BRANCHES}
            out.append(self.head(self.pair_maps(part["mel"], part["stft"])))
        return np.concatenate(out)

    def cam_inputs(
        self, mel: np.ndarray | None, stft: np.ndarray | None, *, target: int = 1
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
        """Feature maps, d score / d feature map, and probability, in one compiled call per batch.

        Parameters
        ----------
        mel, stft : np.ndarray [shape=(n, S, S, 3)] or None
        target : {0, 1}

        Returns
        -------
        maps, grads : dict of str to np.ndarray [shape=(n, h, w, c), dtype=float32]
        prob : np.ndarray [shape=(n,), dtype=float32]
        """
        import tensorflow as tf

        n = check_pair(mel, stft, self.branches)
        arrays = {"mel": mel, "stft": stft}
        k = len(self.branches)
        step = max(1, self.batch_size // k)
        maps: dict[str, list[np.ndarray]] = {b: [] for b in self.branches}
        grads: dict[str, list[np.ndarray]] = {b: [] for b in self.branches}
        probs = []
        for s in chunks(n, step):
            images = np.concatenate([np.asarray(arrays[b])[s] for b in self.branches], axis=0)
            m = s.stop - s.start
            out_maps, out_grads, prob = self._cam_fn(
                tf.constant(_compact(images)), tf.constant(m), tf.constant(target)
            )
            for i, b in enumerate(self.branches):
                maps[b].append(np.asarray(out_maps[i]))
                grads[b].append(_zeros_if_none(out_grads[i], out_maps[i]))
            probs.append(np.asarray(prob))
        return (
            {b: np.concatenate(v) for b, v in maps.items()},
            {b: np.concatenate(v) for b, v in grads.items()},
            np.concatenate(probs).astype(np.float32),
        )

    def input_gradients(
        self, images: np.ndarray, others: dict[str, np.ndarray], *, branch: str, target: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """d score / d image for one branch, the other branches held at fixed feature maps.

        Parameters
        ----------
        images : np.ndarray [shape=(m, S, S, 3)]
            Images of ``branch`` (float, 0..255; may be perturbed copies).
        others : dict of str to np.ndarray [shape=(m, h, w, c)]
            Feature maps of the model's other branches, row-aligned with ``images``.
        branch : {"mel", "stft"}
        target : {0, 1}

        Returns
        -------
        grads : np.ndarray [shape=(m, S, S, 3), dtype=float32]
        prob : np.ndarray [shape=(m,), dtype=float32]
        """
        import tensorflow as tf

        if branch not in self.branches:
            raise ExplainError(f"branch={branch!r}; this model has {self.branches}")
        fn = self._input_grad_fns[branch]
        rest = [b for b in self.branches if b != branch]
        grads, probs = [], []
        for s in chunks(images.shape[0], self.batch_size):
            x = tf.constant(images[s], dtype=tf.float32)
            g, p = fn(x, [tf.constant(others[b][s], dtype=tf.float32) for b in rest], tf.constant(target))
            grads.append(_zeros_if_none(g, x))
            probs.append(np.asarray(p))
        return np.concatenate(grads).astype(np.float32), np.concatenate(probs).astype(np.float32)

    def branch_variants(
        self, variants: np.ndarray, intact: dict[str, np.ndarray], owner: np.ndarray, *, branch: str
    ) -> np.ndarray:
        """Probability when one branch's image is replaced by variants, the others kept intact.

        Parameters
        ----------
        variants : np.ndarray [shape=(m, S, S, 3)]
            Replacement images for ``branch`` (occluded, masked, perturbed).
        intact : dict of str to np.ndarray [shape=(n, h, w, c)]
            Feature maps of the unperturbed pairs.
        owner : np.ndarray [shape=(m,), dtype=int]
            Row of ``intact`` each variant belongs to.
        branch : {"mel", "stft"}

        Returns
        -------
        prob : np.ndarray [shape=(m,), dtype=float32]
        """
        own = self.feature_maps(variants)
        maps = {b: own if b == branch else intact[b][owner] for b in self.branches}
        return self.head(maps)


def _compact(images: np.ndarray) -> np.ndarray:
    """uint8 images stay uint8; anything else becomes float32."""
    images = np.asarray(images)
    return images if images.dtype == np.uint8 else images.astype(np.float32, copy=False)


def _zeros_if_none(grad: Any, like: Any) -> np.ndarray:
    # The tape returns None for a branch the head ignores; its gradient is exactly zero.
    if grad is None:
        return np.zeros(tuple(like.shape), dtype=np.float32)
    return np.asarray(grad, dtype=np.float32)


_RUNNERS: weakref.WeakKeyDictionary[Any, StagedRunner] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def runner_for(model: Any, *, batch_size: int | None = None) -> StagedRunner:
    """The cached :class:`StagedRunner` of a model (compiled once, reused by every method).

    Parameters
    ----------
    model : StagedModel or StagedRunner
    batch_size : int, optional
        Overrides the runner's backbone batch size.
    """
    if isinstance(model, StagedRunner):
        runner = model
    else:
        with _LOCK:
            try:
                runner = _RUNNERS.get(model)
            except TypeError:
                runner = None
            if runner is None:
                runner = StagedRunner(model)
                try:
                    _RUNNERS[model] = runner
                except TypeError:
                    pass  # not weak-referenceable: the runner lives as long as the caller keeps it
    if batch_size is not None:
        runner.batch_size = int(batch_size)
    return runner
