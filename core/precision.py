"""``train.precision``: float32, or Keras mixed precision with bfloat16 compute, for one fold at a time.

"float32" (the default, and the study's) computes everything in float32. "bfloat16" builds
the fold's model under Keras' ``"mixed_bfloat16"`` dtype policy: the weights stay float32
(the optimizer updates float32 variables), while the layers compute in bfloat16, which
keeps float32's range but only 8 bits of mantissa (about 3 significant decimal digits).
The output layer is built float32, so probabilities are float32; every activation before
it is rounded to bfloat16. Trained models and metrics therefore differ from a float32 run
by more than float round-off: the same seeds give a close, not an equal, run.

The policy is global in Keras, so :func:`precision_scope` sets it only while a fold's
model is built and puts the previous policy back afterwards; layers keep the policy
they were built with (also when saved and loaded again).

bfloat16 pays off on GPUs and on CPUs with bfloat16 instructions (``avx512_bf16`` or
``amx_bf16`` in ``/proc/cpuinfo``: Intel Cooper Lake, Sapphire Rapids and later, AMD Zen 4
and later). Elsewhere TensorFlow emulates it, slower than float32: training goes on, with
a :class:`PrecisionWarning` that says so, and the run's manifest records the hardware
(:func:`precision_record`), because a run in bfloat16 is still a valid run to compare.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.config import TRAIN_CHOICES

PRECISIONS: tuple[str, ...] = TRAIN_CHOICES["precision"]
#: Keras dtype policy of each precision.
POLICIES: dict[str, str] = {"float32": "float32", "bfloat16": "mixed_bfloat16"}
#: /proc/cpuinfo flags of CPUs that compute bfloat16 natively.
BF16_CPU_FLAGS: tuple[str, ...] = ("avx512_bf16", "amx_bf16")


class PrecisionWarning(UserWarning):
    """bfloat16 was asked for on hardware that only emulates it (slower than float32)."""


def cpu_bf16_flags(cpuinfo: str | None = None) -> tuple[str, ...]:
    """The bfloat16 flags of this CPU (``BF16_CPU_FLAGS`` found in ``/proc/cpuinfo``'s flags).

    Parameters
    ----------
    cpuinfo : str, optional
        Text of ``/proc/cpuinfo`` (read when omitted; "" where it does not exist).
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            cpuinfo = ""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            flags.update(value.split())
    return tuple(f for f in BF16_CPU_FLAGS if f in flags)


def gpu_count() -> int:
    """GPUs TensorFlow sees."""
    from core.models.runtime import tensorflow

    return len(tensorflow().config.list_physical_devices("GPU"))


def bf16_hardware(*, cpuinfo: str | None = None, gpus: int | None = None) -> str:
    """What would compute bfloat16 natively here: "gpu", a CPU flag such as "avx512_bf16", or "".

    Parameters
    ----------
    cpuinfo : str, optional
        ``/proc/cpuinfo`` text (read when omitted).
    gpus : int, optional
        GPUs visible (asked of TensorFlow when omitted).
    """
    if (gpu_count() if gpus is None else gpus) > 0:
        return "gpu"
    flags = cpu_bf16_flags(cpuinfo)
    return flags[0] if flags else ""


def precision_record(precision: str, *, hardware: str | None = None) -> dict[str, str]:
    """What the manifest says about the precision: ``precision``, Keras ``policy``, ``hardware``.

    ``hardware`` is "" for float32; for bfloat16 the native support found where the folds
    trained, or "none (emulated, slower than float32)".
    """
    if precision != "bfloat16":
        return {"precision": precision, "policy": POLICIES.get(precision, precision), "hardware": ""}
    found = bf16_hardware() if hardware is None else hardware
    return {
        "precision": precision,
        "policy": POLICIES[precision],
        "hardware": found or "none (emulated, slower than float32)",
    }


@contextlib.contextmanager
def precision_scope(precision: str) -> Iterator[str]:
    """Build models inside with the Keras dtype policy of ``precision``; restore the previous one after.

    Yields the policy name. Warns (:class:`PrecisionWarning`) when bfloat16 is asked for
    where neither a GPU nor a bfloat16 CPU computes it.
    """
    from core.errors import ConfigError

    if precision not in POLICIES:
        raise ConfigError(f"train.precision={precision!r}; expected one of {PRECISIONS}")
    from core.models.runtime import tensorflow

    tensorflow()
    import keras

    if precision == "bfloat16" and not bf16_hardware():
        warnings.warn(
            "train.precision='bfloat16' on a CPU without avx512_bf16 or amx_bf16 and no GPU: TensorFlow "
            "emulates bfloat16, so training is slower than float32 (results are still bfloat16's)",
            PrecisionWarning,
            stacklevel=3,
        )
    previous: Any = keras.config.dtype_policy()
    keras.config.set_dtype_policy(POLICIES[precision])
    try:
        yield POLICIES[precision]
    finally:
        keras.config.set_dtype_policy(previous)


__all__ = [
    "BF16_CPU_FLAGS",
    "POLICIES",
    "PRECISIONS",
    "PrecisionWarning",
    "bf16_hardware",
    "cpu_bf16_flags",
    "gpu_count",
    "precision_record",
    "precision_scope",
]
