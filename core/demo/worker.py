"""Worker process of the demo generator: ``python -m core.demo.worker``.

Reads a pickled job ``{"root": str, "seed": int, "patients": [PatientPlan, ...]}`` from
stdin (written by :func:`core.demo.generate.generate_cohort`, never by a user), writes those
patients and prints each finished patient's index on its own line for progress.
A module of its own, run with ``-m``, so the caller's ``__main__`` is never re-imported.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from core.demo.generate import write_patient


def main() -> int:
    job = pickle.load(sys.stdin.buffer)
    root = Path(job["root"])
    for patient in job["patients"]:
        write_patient(patient, root=root, seed=job["seed"])
        print(patient.index, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
