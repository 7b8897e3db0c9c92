"""Helpers shared by the tests/test_model_*.py files: tiny models, prompts, the reference LM."""

from __future__ import annotations

import os

for _k, _v in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "WANDB_MODE": "disabled",
}.items():
    os.environ.setdefault(_k, _v)

import torch

from flamingo.config import PRESETS
from flamingo.factory import build_flamingo
from flamingo.lm import load_lm


def tiny(**overrides):
    """(model, tokenizer, transform) of the tiny preset, with top-level config overrides."""
    config = PRESETS.get("tiny")
    for key, value in overrides.items():
        setattr(config, key, value)
    return build_flamingo(config)


def open_gates(model, value: float = 1.0) -> None:
    """Non-zero gates so images actually change the output (at init they cannot)."""
    with torch.no_grad():
        for layer in model.flamingo_layers:
            if layer.xattn is not None:
                layer.xattn.attn_gate.fill_(value)
                layer.xattn.ff_gate.fill_(value)


def encode(tokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    return batch["input_ids"], batch["attention_mask"]


def images(batch: int, slots: int, frames: int = 1, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, slots, frames, 3, size, size, generator=g)


def reference_lm(model) -> torch.nn.Module:
    """A plain copy of the frozen LM inside ``model``, loaded from its frozen weights."""
    lm = load_lm(model.config.lm)
    state = {}
    for name, value in model.lm.state_dict().items():
        if ".xattn." in name or ".new." in name:
            continue
        state[name.replace("decoder_layer.", "").replace(".base.", ".")] = value
    missing, unexpected = lm.load_state_dict(state, strict=False)
    assert not unexpected and all("lm_head" in m for m in missing), (missing, unexpected)
    lm.tie_weights()
    return lm.eval()
