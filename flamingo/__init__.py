"""Flamingo: a frozen open_clip vision tower and a frozen Hugging Face causal LM, joined by a
Perceiver Resampler and gated cross-attention (Alayrac et al., 2022).

Importing the package is light (no torch); the main names load on first use:
``build_flamingo``, ``load_flamingo``, ``Flamingo``, ``FlamingoConfig``, ``PRESETS``.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "build_flamingo": "flamingo.factory",
    "Flamingo": "flamingo.model",
    "FlamingoOutput": "flamingo.model",
    "FlamingoConfig": "flamingo.config",
    "load_flamingo": "flamingo.factory",
    "PRESETS": "flamingo.config",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'flamingo' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
