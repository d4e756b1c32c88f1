"""How numbers are written for people and for JSON: one home for "mean ± SD" and NaN → None.

Summaries, tables, slides and the CLI all print a mean with its spread and store
statistics that may be undefined (an AUROC of a fold with one class); both are written
here so every place reads the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def nan_to_none(value: Any) -> float | None:
    """A JSON-ready float: ``None`` for None or NaN, else ``float(value)``.

    Parameters
    ----------
    value : float, numpy scalar or None
    """
    if value is None:
        return None
    value = float(value)
    return None if np.isnan(value) else value


def mean_sd(
    mean: float | None,
    sd: float | None,
    *,
    digits: int = 3,
    fmt: Callable[[float], str] | None = None,
    missing: str = "n/a",
) -> str:
    """ "0.812 ± 0.050": a mean and its spread; the mean alone when ``sd`` is None.

    Parameters
    ----------
    mean, sd : float or None
        ``mean`` None reads ``missing``.
    digits : int
        Decimals of both numbers (when ``fmt`` is not given).
    fmt : callable, optional
        Writes one number (e.g. as a percentage); overrides ``digits``.
    missing : str
        What a missing mean reads.
    """
    if mean is None:
        return missing
    write = fmt or (lambda v: f"{v:.{digits}f}")
    return write(mean) if sd is None else f"{write(mean)} ± {write(sd)}"


__all__ = ["mean_sd", "nan_to_none"]
