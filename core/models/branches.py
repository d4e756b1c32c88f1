"""The model's input branches: the one home of their names and of which ``model.inputs`` uses which."""

from __future__ import annotations

from typing import Literal

Branch = Literal["mel", "stft"]

#: Every branch a model may have, in the order the dual head takes them.
BRANCHES: tuple[Branch, ...] = ("mel", "stft")

#: ``ModelConfig.inputs`` → the branches that model has.
INPUT_BRANCHES: dict[str, tuple[Branch, ...]] = {"dual": BRANCHES, "mel": ("mel",), "stft": ("stft",)}

__all__ = ["BRANCHES", "INPUT_BRANCHES", "Branch"]
