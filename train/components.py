"""What the trainer needs from the model package, gathered in one place.

``build_components(preset)`` asks ``flamingo`` for the model, its tokenizer and the vision
tower's preprocessing, and turns the token conventions into a ``Vocab`` plus the
label-masking function. Tests hand the loop a ``Components`` built around a stand-in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from train.collate import Vocab


@dataclass
class Components:
    model: nn.Module
    vocab: Vocab
    transform: Callable  # PIL.Image -> (C, H, W) float tensor
    make_labels: Callable  # (input_ids, label_ids) -> labels
    label_ids: object  # what make_labels takes as its second argument (flamingo.tokens.TokenIds)
    patches_per_image: int = 1  # for the MFU estimate
    image_size: int | None = (
        None  # the vision tower's input side (lets the loader decode JPEGs smaller)
    )


def _encoder(tokenizer) -> Callable[[str], list[int]]:
    return _TokenizerEncode(tokenizer)


class _TokenizerEncode:
    """A picklable ``text -> ids`` over a Hugging Face tokenizer, adding no special tokens."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]


def build_components(preset) -> Components:
    """``preset``: a name in ``flamingo.config.PRESETS`` or a ``FlamingoConfig``."""
    from flamingo.config import PRESETS
    from flamingo.factory import build_flamingo
    from flamingo.tokens import make_labels

    config = PRESETS.get(preset) if isinstance(preset, str) else preset
    model, tokenizer, transform = build_flamingo(config)
    ids = model.token_ids
    vocab = Vocab(
        encode=_encoder(tokenizer),
        image=ids.image,
        end_of_chunk=ids.end_of_chunk,
        pad=ids.pad,
        eos=ids.eos,
    )
    return Components(
        model, vocab, transform, make_labels, ids, _patches(model), _image_size(model)
    )


def _patches(model: nn.Module) -> int:
    """Tokens the vision tower runs per image (grid + class token), when it says."""
    for m in model.modules():
        grid = getattr(m, "grid_size", None)
        if isinstance(grid, tuple) and len(grid) == 2:
            return grid[0] * grid[1] + 1
    return 1


def _image_size(model: nn.Module) -> int | None:
    for m in model.modules():
        size = getattr(m, "image_size", None)
        if isinstance(size, int):
            return size
        if isinstance(size, tuple) and len(size) == 2:
            return max(size)
    return None
