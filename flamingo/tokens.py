"""Token conventions: the two special tokens, the tokenizer for random-init LMs, label masking.

One module owns how interleaved text reads to the language model, so the trainer,
generation and the tests agree: an ``<image>`` token stands where each image is,
``<|endofchunk|>`` closes the text that belongs to it (Flamingo / OpenFlamingo).
The strings equal ``pipeline.shards.format.IMAGE_TOKEN`` / ``END_OF_CHUNK_TOKEN``
(a test keeps them equal; ``flamingo`` never imports ``pipeline``).

Torch-free at module top: only ``make_labels`` touches tensors and imports lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

IMAGE_TOKEN = "<image>"
END_OF_CHUNK_TOKEN = "<|endofchunk|>"
PAD_TOKEN = "<pad>"
BYTE_EOS_TOKEN = "</s>"
IGNORE_INDEX = -100  # torch.nn.functional.cross_entropy's default ignore_index


@dataclass(frozen=True)
class TokenIds:
    """Ids of the tokens the model and trainer treat specially."""

    image: int
    end_of_chunk: int
    pad: int
    eos: int


def add_special_tokens(tokenizer: Any) -> TokenIds:
    """Add ``<image>``, ``<|endofchunk|>`` (and ``<pad>``); return their ids.

    A dedicated pad token is added when the tokenizer has none or pads with eos (as
    SmolLM2 does): then padding and a real eos can be told apart from the ids alone,
    and ``make_labels`` needs no attention mask. Idempotent.
    """
    tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN, END_OF_CHUNK_TOKEN]})
    if tokenizer.pad_token is None or tokenizer.pad_token_id == tokenizer.eos_token_id:
        tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    # Left padding: batched prompts for generation end where the new tokens start.
    tokenizer.padding_side = "left"
    return token_ids(tokenizer)


def token_ids(tokenizer: Any) -> TokenIds:
    """The special-token ids of a tokenizer that ``add_special_tokens`` has seen."""
    image = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    eoc = tokenizer.convert_tokens_to_ids(END_OF_CHUNK_TOKEN)
    if image == tokenizer.unk_token_id or eoc == tokenizer.unk_token_id:
        raise ValueError("tokenizer lacks <image>/<|endofchunk|>; call add_special_tokens first")
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else eoc
    return TokenIds(image=image, end_of_chunk=eoc, pad=tokenizer.pad_token_id, eos=eos)


def make_labels(input_ids: torch.Tensor, ids: TokenIds) -> torch.Tensor:
    """Targets for the LM loss, (B, L) -> (B, L); ``IGNORE_INDEX`` where no loss is taken.

    No loss on ``<image>`` (the model cannot know where images go), on padding, or on
    text before the first image of a row (nothing visual conditions it). Text after an
    image, its ``<|endofchunk|>`` and ``eos`` are targets, so the model learns to close
    a chunk. The model shifts internally: ``labels[t]`` is predicted at position t-1.
    """
    import torch

    is_image = input_ids == ids.image
    seen_image = torch.cumsum(is_image.long(), dim=1) > 0  # (B, L): at or after the first image
    keep = seen_image & ~is_image
    if ids.pad != ids.eos:
        keep &= input_ids != ids.pad
    # With pad == eos (a tokenizer add_special_tokens has not seen) padding cannot be told
    # from eos here; ``mask_padding`` with the attention mask does it.
    return torch.where(keep, input_ids, torch.full_like(input_ids, IGNORE_INDEX))


def mask_padding(labels: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Set labels to ``IGNORE_INDEX`` wherever ``attention_mask`` is 0 (B, L)."""
    import torch

    return torch.where(attention_mask.bool(), labels, torch.full_like(labels, IGNORE_INDEX))


def build_byte_tokenizer() -> Any:
    """A byte-level tokenizer built in code: 256 byte tokens + ``</s>``, no files, no downloads.

    Used by random-init LMs (the ``tiny`` preset and GPU benchmarks) so that tests need
    no tokenizer files and the tiny LM's vocabulary stays small (257 rows). Chosen over
    the SmolLM2 GGUF tokenizer, which takes ~5 s to parse and would make the tiny LM's
    embedding 49k rows.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()  # the 256 printable stand-ins for bytes
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    vocab[BYTE_EOS_TOKEN] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=BYTE_EOS_TOKEN)
