"""Synthetic vowels for the audio and window tests (not a test module)."""

from __future__ import annotations

import numpy as np

SR = 16_000


def vowel(duration_s: float, *, sr: int = SR, f0: float = 150.0, seed: int = 0) -> np.ndarray:
    """A harmonic tone with a little noise, peak 0.5."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(duration_s * sr)) / sr
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) + 0.01 * rng.standard_normal(t.size)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def with_silence(
    y: np.ndarray, *, lead_s: float, tail_s: float, sr: int = SR, level: float = 1e-4
) -> np.ndarray:
    rng = np.random.default_rng(1)
    lead = level * rng.standard_normal(round(lead_s * sr))
    tail = level * rng.standard_normal(round(tail_s * sr))
    return np.concatenate([lead, y, tail]).astype(np.float32)
