"""Train the folds of a run as Ray tasks: one task per repeat × fold, on one machine or a cluster.

The driver (the process that owns the run folder) puts the segment dataset into Ray's
object store once, submits one task per fold still to train and saves each result
through the run store (:func:`core.runs.save_fold`) as it arrives, so ``folds_done``,
``progress.json``, resume and every run reader behave as with the local backend. A
task imports TensorFlow inside its worker, trains the fold with
:func:`core.training.train_fold` (the same seeds as a sequential run: the backbone
from the split seed, head and batch order from the fold seed) and returns the
predictions, history, metrics and the model file's bytes; workers write nothing.

Cluster: ``ray.init()`` starts a local cluster sized by :func:`ray_settings` unless
``RAY_ADDRESS`` names an existing one, which is then joined (the ``core`` package is
shipped to its workers with ``runtime_env.py_modules``). Each task asks for
``VOE_RAY_TASK_CPUS`` CPUs and ``VOE_RAY_TASK_GPUS`` GPUs (default: one GPU per task
when the cluster has GPUs, else none). A task whose worker dies (killed, out of memory,
a lost node) is retried up to ``VOE_RAY_MAX_RETRIES`` times; an error raised by the
training itself is not retried and fails the run. Cancelling the run (SIGTERM, Ctrl-C)
cancels every task still pending or running.

Progress: each task pushes its :class:`core.progress.ProgressEvent` objects (cache,
fold start, every epoch) to a :class:`ray.util.queue.Queue` (an actor that takes no CPU);
the driver drains it between its waits for finished tasks, so ``progress.json`` and the
CLI bar follow every epoch of every fold as with the local backend. Folds train in
parallel, so an event's ``fold_index`` counts the folds finished before it (the bar moves
forward) and its ``fold`` names the fold that reported.

Fault injection for tests: with ``VOE_RAY_FAULT_ONCE=<marker file>`` the first task
to finish an epoch creates the marker and kills its own worker (``os._exit``); every
later attempt sees the marker and trains normally.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from core.config import ExperimentConfig
from core.errors import TrainingError
from core.progress import ProgressEvent
from core.splits import Fold
from core.training import FoldResult

if TYPE_CHECKING:
    from core.dataset import SegmentDataset

FAULT_ENV = "VOE_RAY_FAULT_ONCE"
#: Exit code of a worker killed on purpose by the fault injection.
FAULT_EXIT = 17


@dataclass(frozen=True)
class RaySettings:
    """How the local cluster is started and what each task asks for.

    Attributes
    ----------
    address : str
        ``RAY_ADDRESS`` of a cluster to join ("" starts a local one).
    num_cpus : int
        CPUs of the local cluster (``VOE_RAY_NUM_CPUS``, default: this machine's).
    num_gpus : int or None
        GPUs of the local cluster (``VOE_RAY_NUM_GPUS``; None lets Ray detect them).
    object_store_mb : int
        Object store of the local cluster (``VOE_RAY_OBJECT_STORE_MB``, default 512).
    task_cpus : float
        CPUs per fold task (``VOE_RAY_TASK_CPUS``, default 1).
    task_gpus : float or None
        GPUs per fold task (``VOE_RAY_TASK_GPUS``; None: 1 when the cluster has GPUs).
    max_retries : int
        Retries of a task whose worker died (``VOE_RAY_MAX_RETRIES``, default 2).
    """

    address: str = ""
    num_cpus: int = 1
    num_gpus: int | None = None
    object_store_mb: int = 512
    task_cpus: float = 1.0
    task_gpus: float | None = None
    max_retries: int = 2


def _env_number(name: str, kind: type, default: Any) -> Any:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise TrainingError(f"{name}={raw!r}; expected a number") from None
    if value < 0:
        raise TrainingError(f"{name}={raw!r}; expected a number >= 0")
    return value


def ray_settings() -> RaySettings:
    """Settings from the environment (see :class:`RaySettings`)."""
    return RaySettings(
        address=os.environ.get("RAY_ADDRESS", "").strip(),
        num_cpus=_env_number("VOE_RAY_NUM_CPUS", int, os.cpu_count() or 1),
        num_gpus=_env_number("VOE_RAY_NUM_GPUS", int, None),
        object_store_mb=_env_number("VOE_RAY_OBJECT_STORE_MB", int, 512),
        task_cpus=_env_number("VOE_RAY_TASK_CPUS", float, 1.0),
        task_gpus=_env_number("VOE_RAY_TASK_GPUS", float, None),
        max_retries=_env_number("VOE_RAY_MAX_RETRIES", int, 2),
    )


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise TrainingError("the ray backend needs Ray: pip install -r requirements.txt") from None
    return ray


@contextlib.contextmanager
def ray_session(settings: RaySettings | None = None) -> Iterator[Any]:
    """Yield the ``ray`` module, connected; shut down on exit only if this call started it.

    A session already open in this process (a sweep, a test) is reused as it is.
    """
    ray = _import_ray()
    if ray.is_initialized():
        yield ray
        return
    settings = settings or ray_settings()
    package = str(Path(__file__).resolve().parents[1])
    if settings.address:
        # workers of another cluster get this code shipped; they need the requirements installed
        ray.init(address=settings.address, runtime_env={"py_modules": [package]}, log_to_driver=False)
    else:
        root = str(Path(package).parent)
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        ray.init(
            num_cpus=settings.num_cpus,
            num_gpus=settings.num_gpus,
            object_store_memory=settings.object_store_mb * 1024 * 1024,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3"}},
        )
    try:
        yield ray
    finally:
        ray.shutdown()


class RemoteModel:
    """A trained fold model as the bytes of its ``.keras`` file and its sidecar (driver side).

    Quacks like :class:`core.models.dual.DualModel` for :func:`core.runs.save_fold`:
    ``info`` and ``save(path)``; the driver never needs TensorFlow to store it.
    """

    def __init__(self, keras_bytes: bytes, sidecar: str) -> None:
        from core.models.dual import ModelInfo

        self.keras_bytes = keras_bytes
        self.sidecar = sidecar
        self.info = ModelInfo.from_dict(json.loads(sidecar))

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (``.keras``) and its ``.json`` sidecar atomically; return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.keras")
        tmp.write_bytes(self.keras_bytes)
        tmp.replace(path)
        side = path.with_suffix(".json")
        tmp_side = side.with_name(side.name + ".tmp")
        tmp_side.write_text(self.sidecar)
        tmp_side.replace(side)
        return path


@dataclass
class RemoteFoldResult(FoldResult):
    """What a fold task returns: a :class:`core.training.FoldResult` with the model as bytes.

    Attributes
    ----------
    model : RemoteModel
    cache_seconds : float
        The task's feature-cache seconds.
    worker_pid : int
    bf16_hardware : str
        With ``train.precision="bfloat16"``: what computed bfloat16 in the worker
        (:func:`core.precision.bf16_hardware`; "" when emulated, or for float32).
    """

    model: RemoteModel
    cache_seconds: float
    worker_pid: int
    bf16_hardware: str = ""


def _fold_task(
    data: dict[str, Any], fold: Fold, config: dict[str, Any], fault_marker: str, events: Any = None
) -> dict[str, Any]:
    """Train one fold in a Ray worker; return plain data (no TensorFlow objects).

    ``events`` (a :class:`ray.util.queue.Queue`) receives every progress event of the
    fold but its end, which the driver announces once the fold is saved.
    """
    from core.precision import bf16_hardware
    from core.train_steps import FeatureCache
    from core.training import train_fold

    dataset = SimpleNamespace(**data)
    experiment = ExperimentConfig.from_dict(config)

    def progress(event: Any) -> None:
        if fault_marker and event.kind == "epoch" and not os.path.exists(fault_marker):
            Path(fault_marker).write_text(f"worker {os.getpid()} killed during fold {fold.key}\n")
            os._exit(FAULT_EXIT)
        if events is not None and event.kind != "fold_end":
            with contextlib.suppress(Exception):  # a lost progress line must never fail the fold
                events.put(event, timeout=10)

    cache = FeatureCache()
    result = train_fold(dataset, fold, experiment, cache=cache, progress=progress)
    with tempfile.TemporaryDirectory() as tmp:
        path = result.model.save(Path(tmp) / f"{fold.key}.keras")
        keras_bytes, sidecar = path.read_bytes(), path.with_suffix(".json").read_text()
    return {
        **{f.name: getattr(result, f.name) for f in fields(FoldResult) if f.name != "model"},
        "cache_seconds": cache.seconds,
        "keras_bytes": keras_bytes,
        "sidecar": sidecar,
        "worker_pid": os.getpid(),
        "bf16_hardware": bf16_hardware() if experiment.train.precision == "bfloat16" else "",
    }


def _as_result(raw: dict[str, Any]) -> RemoteFoldResult:
    model = RemoteModel(raw.pop("keras_bytes"), raw.pop("sidecar"))
    return RemoteFoldResult(model=model, **raw)


def _task_gpus(ray: Any, settings: RaySettings) -> float:
    if settings.task_gpus is not None:
        return settings.task_gpus
    return 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0


def train_folds(
    dataset: SegmentDataset,
    folds: Sequence[Fold],
    config: ExperimentConfig,
    *,
    on_result: Callable[[RemoteFoldResult, int], None],
    on_event: Callable[[ProgressEvent], None] | None = None,
    settings: RaySettings | None = None,
    poll_s: float = 0.5,
) -> float:
    """Train ``folds`` as parallel Ray tasks, handing each result to ``on_result`` as it finishes.

    Parameters
    ----------
    dataset : SegmentDataset
        Only ``segments``, ``mel`` and ``stft`` [shape=(n, S, S, 3), dtype=uint8] travel.
    folds : sequence of Fold
    config : ExperimentConfig
    on_result : callable
        ``on_result(result, n_finished)`` in the driver, in order of completion (saves the fold).
    on_event : callable, optional
        Receives, in the driver, the tasks' progress events (cache, fold start, every
        epoch) while they train, each before its fold's ``on_result``.
    settings : RaySettings, optional
        Default: :func:`ray_settings`.
    poll_s : float
        Seconds between two looks at the tasks (and their progress events).

    Returns
    -------
    cache_seconds : float
        Seconds the workers spent computing frozen-prefix features, summed.

    Raises
    ------
    TrainingError
        When a task fails for good (its error, with the fold named).
    """
    settings = settings or ray_settings()
    if not folds:
        return 0.0
    with ray_session(settings) as ray:
        data = ray.put({"segments": dataset.segments, "mel": dataset.mel, "stft": dataset.stft})
        task = ray.remote(_fold_task).options(
            num_cpus=settings.task_cpus,
            num_gpus=_task_gpus(ray, settings),
            max_retries=settings.max_retries,
            retry_exceptions=False,
        )
        events = _event_queue() if on_event is not None else None
        fault = os.environ.get(FAULT_ENV, "")
        config_dict = config.to_dict()
        pending = {task.remote(data, fold, config_dict, fault, events): fold for fold in folds}
        try:
            return _collect(ray, pending, on_result, lambda: _drain(ray, events, on_event), poll_s)
        except BaseException as exc:
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
            # a signal handler's exception (RunCancelled on SIGTERM, Ctrl-C) raised while Ray waits in
            # its C code comes out wrapped in a SystemError: hand on the original, so the run is "cancelled"
            cause = exc.__cause__ or exc.__context__
            if isinstance(exc, SystemError) and isinstance(cause, (KeyboardInterrupt, Exception)):
                raise cause from None
            raise
        finally:
            if events is not None:
                with contextlib.suppress(Exception):
                    events.shutdown()


def _collect(
    ray: Any,
    pending: dict[Any, Fold],
    on_result: Callable[[RemoteFoldResult, int], None],
    drain: Callable[[], None],
    poll_s: float,
) -> float:
    """Wait for the tasks of ``pending`` (emptied as they finish); return their cache seconds."""
    cache_seconds, finished = 0.0, 0
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=poll_s)
        drain()  # a finished task's events are all queued: they go out before its fold's end
        for ref in ready:
            fold = pending.pop(ref)
            try:
                raw = ray.get(ref)
            except Exception as exc:
                raise TrainingError(f"fold {fold.key} failed on Ray: {_short(exc)}") from None
            result = _as_result(raw)
            finished += 1
            cache_seconds += result.cache_seconds
            on_result(result, finished)
    return cache_seconds


def _event_queue() -> Any:
    """A queue actor the tasks push their progress events to; it asks for no CPU."""
    from ray.util.queue import Queue

    return Queue(actor_options={"num_cpus": 0})


def _drain(ray: Any, events: Any, on_event: Callable[[ProgressEvent], None] | None) -> None:
    """Hand every queued progress event to ``on_event``, oldest first."""
    if events is None or on_event is None:
        return
    try:
        waiting = events.qsize()
        batch = events.get_nowait_batch(waiting) if waiting else []
    except ray.exceptions.RayError:  # the queue's actor is gone: progress stops, the training goes on
        return
    for event in batch:
        on_event(event)


def train_into_run(
    run_dir: str | Path,
    dataset: SegmentDataset,
    config: ExperimentConfig,
    folds: Sequence[Fold],
    *,
    emit: Callable[[Any], None],
    done: set[str],
) -> float:
    """Train ``folds`` on Ray and save each into ``run_dir`` as it finishes (driver side).

    Each finished fold goes through :func:`core.runs.save_fold` (so a cancelled or failed
    run keeps every fold that finished), is added to ``done`` and announced by a
    ``fold_end`` :class:`core.progress.ProgressEvent` to ``emit``; the tasks' epoch events
    reach ``emit`` while they train. With ``train.precision="bfloat16"`` the manifest's
    ``precision.hardware`` says what the workers computed bfloat16 on.

    Returns
    -------
    cache_seconds : float
        Feature-cache seconds of all tasks.
    """
    from core import runs
    from core.precision import precision_record
    from core.progress import fold_end

    finished = [0]
    hardware: set[str] = set()

    def save(result: RemoteFoldResult, n_finished: int) -> None:
        runs.save_fold(run_dir, result)
        done.add(result.fold.key)
        finished[0] = n_finished
        emit(fold_end(result, fold_index=n_finished - 1, n_folds=len(folds)))
        if config.train.precision == "bfloat16":  # the workers', not the driver's, hardware
            record = precision_record("bfloat16", hardware=result.bf16_hardware)
            hardware.add(record["hardware"])
            runs.update_manifest(run_dir, precision={**record, "hardware": ", ".join(sorted(hardware))})

    def forward(event: ProgressEvent) -> None:
        emit(replace(event, fold_index=finished[0], n_folds=len(folds)))

    settings = ray_settings()
    runs.update_manifest(
        run_dir, backend="ray", ray={"address": settings.address or "local", "task_cpus": settings.task_cpus}
    )
    return train_folds(dataset, folds, config, on_result=save, on_event=forward, settings=settings)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


__all__ = [
    "FAULT_ENV",
    "RaySettings",
    "RemoteFoldResult",
    "RemoteModel",
    "ray_session",
    "ray_settings",
    "train_folds",
    "train_into_run",
]
