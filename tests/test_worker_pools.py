"""Spawned workers must not re-run the parent's main script (a Streamlit page under AppTest)."""

from __future__ import annotations

import os
import sys
import types

import numpy as np

from core.worker_pools import plain_main, process_pool


def _pid_and_mean(values: np.ndarray) -> tuple[int, float]:
    return os.getpid(), float(np.mean(values))


def _script_main(tmp_path, marker):
    script = tmp_path / "page.py"
    script.write_text(f"open({str(marker)!r}, 'a').write('ran\\n')\n", encoding="utf-8")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    return main


def test_a_spawned_worker_skips_the_parents_page_script(tmp_path, monkeypatch):
    marker = tmp_path / "ran.txt"
    monkeypatch.setitem(sys.modules, "__main__", _script_main(tmp_path, marker))
    values = np.arange(10, dtype=np.float64)
    with process_pool(1, spawn=True) as pool:
        with plain_main():
            future = pool.submit(_pid_and_mean, values)
        pid, mean = future.result(timeout=120)
    assert pid != os.getpid() and mean == 4.5
    assert not marker.exists()
    assert sys.modules["__main__"].__file__.endswith("page.py")  # restored


def test_without_the_guard_the_page_script_would_run_again(tmp_path, monkeypatch):
    marker = tmp_path / "ran.txt"
    monkeypatch.setitem(sys.modules, "__main__", _script_main(tmp_path, marker))
    with process_pool(1, spawn=True) as pool:
        pid, _ = pool.submit(_pid_and_mean, np.ones(3)).result(timeout=120)
    assert pid != os.getpid()
    assert marker.read_text(encoding="utf-8") == "ran\n"
