"""What the trainer needs from the model package, gathered in one place.

``build_components(preset)`` asks ``flamingo`` for the model, its tokenizer and the vision
tower's preprocessing, and turns the token conventions into a ``Vocab`` (with the BOS rule
and the tokenizer's fingerprint, so the loader can check the shards' token counts) plus the
label-masking function. Tests hand the loop a ``Components`` built around a stand-in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from pipeline.shards import format as sf
from train.collate import Vocab
from train.preprocess import fast_eval_transform


@dataclass
class Components:
    model: nn.Module
    vocab: Vocab
    transform: Callable  # PIL.Image -> (C, H, W) float tensor
    make_labels: Callable  # (input_ids, label_ids) -> labels
    label_ids: object  # what make_labels takes as its second argument (flamingo.tokens.TokenIds)
    image_size: int | None = None  # the vision tower's input side (lets the loader decode JPEGs smaller)
    max_frames: int = 1  # frames per medium the Perceiver has time embeddings for


def _encoder(tokenizer) -> Callable[[str], list[int]]:
    return _TokenizerEncode(tokenizer)


class _TokenizerEncode:
    """A picklable ``text -> ids`` over a Hugging Face tokenizer: no special tokens added, and
    the corpus job's counting rule (``pipeline.shards.format.encode_text``)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> list[int]:
        return sf.encode_text(self.tokenizer, text)


def build_components(preset) -> Components:
    """``preset``: a name in ``flamingo.config.PRESETS`` or a ``FlamingoConfig``."""
    from flamingo.config import PRESETS
    from flamingo.factory import build_flamingo
    from flamingo.tokens import make_labels

    config = PRESETS.get(preset) if isinstance(preset, str) else preset
    model, tokenizer, transform = build_flamingo(config)
    ids = model.token_ids
    vocab = make_vocab(tokenizer, ids, config.lm.tokenizer or config.lm.name_or_path or "tokenizer")
    # the same tensors as the tower's own transform, without torchvision's per-call dispatch
    transform = fast_eval_transform(transform)
    return Components(model, vocab, transform, make_labels, ids, _image_size(model), config.vision.max_frames)


def make_vocab(tokenizer, ids, name: str) -> Vocab:
    """The trainer's ``Vocab`` for a tokenizer that ``flamingo.tokens.add_special_tokens`` has seen."""
    return Vocab(
        encode=_encoder(tokenizer),
        image=ids.image,
        end_of_chunk=ids.end_of_chunk,
        pad=ids.pad,
        eos=ids.eos,
        bos=sf.bos_token_id(tokenizer),
        tokenizer_id=sf.tokenizer_id(name, tokenizer),
    )


def _image_size(model: nn.Module) -> int | None:
    for m in model.modules():
        size = getattr(m, "image_size", None)
        if isinstance(size, int):
            return size
        if isinstance(size, tuple) and len(size) == 2:
            return max(size)
    return None
