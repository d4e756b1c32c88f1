"""Stable pseudonyms for raw patient identifiers, and redaction of text that may hold them.

Raw identifiers (record numbers, national IDs, names, SVD session IDs, notebook pids) are
read only to join files to sheet rows; every table that leaves :mod:`core.cohort` carries
the pseudonym instead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Literal

from core.errors import ConfigError

Scheme = Literal["sequential", "hash"]

#: Runs of this many digits or more that no known identifier explains are masked in paths:
#: record numbers are long, while years (4 digits) and takes are short.
UNKNOWN_NUMBER_DIGITS = 6
UNKNOWN_NUMBER_MASK = "[number]"

_DIGITS = re.compile(r"(\d+)")


def natural_key(raw_id: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders digit runs by value ("2" before "10"), text case-insensitively."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.casefold()) for part in _DIGITS.split(raw_id) if part
    )


def assign_pseudonyms(
    raw_ids: Iterable[str], *, scheme: Scheme = "sequential", salt: str = ""
) -> dict[str, str]:
    """Map every raw patient identifier to a stable pseudonym.

    Parameters
    ----------
    raw_ids : iterable of str
        Raw identifiers, one per patient (duplicates are ignored).
    scheme : {"sequential", "hash"}
        "sequential": P01, P02, ... in natural sort order of the raw ids ("2" before "10"),
        zero-padded to the width of the patient count (at least two digits).
        "hash": "P-" + the first 8 hex digits of sha256(salt + raw id); stable across
        cohorts, so the same patient keeps the same pseudonym when the folder grows.
    salt : str
        Secret prefix for "hash"; without one, a short numeric ID can be recovered by
        hashing every candidate.

    Returns
    -------
    dict of str to str
        Raw id → pseudonym.
    """
    unique = sorted(set(raw_ids), key=lambda r: (natural_key(r), r))
    if scheme == "sequential":
        width = max(2, len(str(len(unique))))
        return {raw: f"P{i:0{width}d}" for i, raw in enumerate(unique, start=1)}
    if scheme == "hash":
        mapping = {raw: "P-" + hashlib.sha256((salt + raw).encode("utf-8")).hexdigest()[:8] for raw in unique}
        if len(set(mapping.values())) != len(mapping):
            raise ConfigError("two patients share a hash pseudonym; choose another salt")
        return mapping
    raise ConfigError(f"pseudonyms={scheme!r}; expected 'sequential' or 'hash'")


def redact_text(text: str, identifiers: Mapping[str, str]) -> str:
    """Replace every raw identifier found in ``text`` by its pseudonym (longest match first).

    Same rule as :meth:`core.cohort.model.Cohort.redact`; used while loading, before the
    cohort exists, on text that comes from outside (file names, library messages, cells).
    """
    keys = [k for k in identifiers if k]
    if not keys:
        return text
    pattern = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
    return re.sub(pattern, lambda m: identifiers[m.group(0)], text)


def mask_unknown_numbers(text: str) -> str:
    """Mask long digit runs (possible record numbers that no known identifier matched)."""
    return re.sub(rf"\d{{{UNKNOWN_NUMBER_DIGITS},}}", UNKNOWN_NUMBER_MASK, text)


def redact_unparsed(text: str, identifiers: Mapping[str, str]) -> str:
    """Redact a path part or message whose structure is unknown: known ids, then long numbers."""
    return mask_unknown_numbers(redact_text(text, identifiers))
