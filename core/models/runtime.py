"""TensorFlow import with thread settings for small CPUs, done once and only when needed.

``core.splits``, ``core.metrics`` and ``core.runs`` never import TensorFlow; model and
training code calls :func:`tensorflow` first, so the thread pools are sized before
TensorFlow starts its runtime. ``VOE_TF_THREADS`` overrides the number of intra-op
threads (default: the CPU count); inter-op parallelism is 1 because on two cores a
second pool only competes with the first.
"""

from __future__ import annotations

import os
from types import ModuleType

_CONFIGURED = False


def tensorflow() -> ModuleType:
    """Import TensorFlow (and Keras' TF backend) with quiet logs and sized thread pools."""
    global _CONFIGURED
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    if not _CONFIGURED:
        threads = int(os.environ.get("VOE_TF_THREADS", os.cpu_count() or 2))
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # the runtime already started (another module ran TF first): keep its pools
        tf.get_logger().setLevel("ERROR")
        _CONFIGURED = True
    return tf


__all__ = ["tensorflow"]
