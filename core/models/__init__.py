"""Models as explicit stages: the backbone registry and the dual-input classifier.

Importing this package does not import TensorFlow; building or loading a model does.
"""

from core.models.backbones import BACKBONES, BackboneSpec, backbone_names, get_backbone
from core.models.branches import BRANCHES, INPUT_BRANCHES, Branch
from core.models.dual import DualModel, ModelInfo, build_model
from core.models.weights import resolve_weights

__all__ = [
    "BACKBONES",
    "BRANCHES",
    "INPUT_BRANCHES",
    "BackboneSpec",
    "Branch",
    "DualModel",
    "ModelInfo",
    "backbone_names",
    "build_model",
    "get_backbone",
    "resolve_weights",
]
