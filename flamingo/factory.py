"""Build a Flamingo from its config: load backbones, add tokens, freeze once, check the count.

The only place that decides what trains: the Perceiver Resampler, the gated
cross-attention blocks and the embedding rows of the added tokens (input rows, and
output rows unless the LM ties them). Everything else is frozen here, once, and the
number of trainable parameters is checked against a formula computed from the
config and the backbones' sizes alone, so a wiring mistake fails loudly at build.

Random-init backbones (``tiny``, benchmarks) and the new parameters are drawn under
``config.init_seed``, so ``load_flamingo`` rebuilds the same frozen weights.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from flamingo.config import FlamingoConfig
from flamingo.lm import (
    ExtendedEmbedding,
    ExtendedHead,
    FlamingoLayer,
    MediaContext,
    find_decoder_layers,
    load_lm,
    load_tokenizer,
)
from flamingo.model import CONFIG_FILE, WEIGHTS_FILE, Flamingo
from flamingo.perceiver import PerceiverResampler
from flamingo.tokens import add_special_tokens
from flamingo.typedconfig import from_dict
from flamingo.vision import VisionEncoder, build_open_clip_tower
from flamingo.xattn import GatedCrossAttentionBlock

log = logging.getLogger(__name__)


def expected_trainable_parameters(
    config: FlamingoConfig,
    *,
    lm_dim: int,
    lm_layers: int,
    lm_heads: int,
    vision_dim: int,
    num_new_tokens: int,
    tied: bool,
) -> int:
    """Trainable-parameter count implied by the config (the factory asserts it)."""
    dv, inner = vision_dim, config.perceiver_heads * config.perceiver_dim_head
    ff_p = 2 * dv + 2 * config.perceiver_ff_mult * dv * dv  # LayerNorm + two bias-free linears
    attn_p = 4 * dv + dv * inner + dv * 2 * inner + inner * dv  # two LayerNorms, q, kv, out
    perceiver = (config.perceiver_latents + config.vision.max_frames) * dv
    perceiver += config.perceiver_depth * (attn_p + ff_p) + 2 * dv
    d = lm_dim
    heads = config.cross_attn_heads or lm_heads
    inner_x = heads * (d // lm_heads)
    block = 2 * d + d * inner_x + dv * 2 * inner_x + inner_x * d + 2  # LayerNorm, q, kv, out, gates
    block += 2 * d + 2 * config.cross_attn_ff_mult * d * d
    blocks = len(config.cross_attn_layers(lm_layers)) * block
    embeddings = num_new_tokens * d * (1 if tied else 2)
    return perceiver + blocks + embeddings


def _extend_vocabulary(lm: nn.Module, first_new: int, num_new: int) -> bool:
    """Swap in embedding and head modules with trainable rows for the new tokens; returns tied."""
    emb = ExtendedEmbedding(lm.get_input_embeddings(), first_new, num_new)
    base_head = lm.get_output_embeddings()
    tied = base_head.weight is emb.base.weight
    lm.set_input_embeddings(emb)
    lm.set_output_embeddings(ExtendedHead(base_head, first_new, emb.new if tied else None, num_new))
    return tied


def _insert_cross_attention(
    lm: nn.Module, config: FlamingoConfig, vision_dim: int, context: MediaContext
) -> None:
    parent, attr, layers = find_decoder_layers(lm)
    d, heads_lm = lm.config.hidden_size, lm.config.num_attention_heads
    heads = config.cross_attn_heads or heads_lm
    where = set(config.cross_attn_layers(len(layers)))
    wrapped = []
    for i, layer in enumerate(layers):
        block = None
        if i in where:
            block = GatedCrossAttentionBlock(
                dim=d,
                dim_visual=vision_dim,
                heads=heads,
                dim_head=d // heads_lm,
                ff_mult=config.cross_attn_ff_mult,
            )
        wrapped.append(FlamingoLayer(layer, block, context))
    setattr(parent, attr, nn.ModuleList(wrapped))


def build_flamingo(config: FlamingoConfig) -> tuple[Flamingo, Any, Callable]:
    """(model, tokenizer with the special tokens, image transform: PIL image -> (C, H, W))."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.init_seed)
        visual, transform = build_open_clip_tower(config.vision)
        vision = VisionEncoder(visual)
        lm = load_lm(config.lm)
        tokenizer = load_tokenizer(config.lm)
        first_new = len(tokenizer)
        token_ids = add_special_tokens(tokenizer)
        num_new = len(tokenizer) - first_new
        if min(token_ids.image, token_ids.end_of_chunk) < first_new:
            # their rows would sit in the frozen table and could never be learnt
            raise ValueError(
                "the tokenizer already had <image>/<|endofchunk|>; give the base tokenizer"
            )
        if first_new > lm.get_input_embeddings().num_embeddings:
            raise ValueError(f"tokenizer ({first_new}) is larger than the LM's vocabulary")
        lm.requires_grad_(False)  # freeze once: everything created below is trainable
        tied = _extend_vocabulary(lm, first_new, num_new)
        context = MediaContext()
        _insert_cross_attention(lm, config, vision.dim, context)
        perceiver = PerceiverResampler(
            dim=vision.dim,
            depth=config.perceiver_depth,
            num_latents=config.perceiver_latents,
            heads=config.perceiver_heads,
            dim_head=config.perceiver_dim_head,
            max_frames=config.vision.max_frames,
            ff_mult=config.perceiver_ff_mult,
        )
    model = Flamingo(
        config=config,
        vision=vision,
        perceiver=perceiver,
        lm=lm,
        context=context,
        token_ids=token_ids,
    )
    expected = expected_trainable_parameters(
        config,
        lm_dim=lm.config.hidden_size,
        lm_layers=lm.config.num_hidden_layers,
        lm_heads=lm.config.num_attention_heads,
        vision_dim=vision.dim,
        num_new_tokens=num_new,
        tied=tied,
    )
    got = model.num_trainable_parameters()
    if got != expected:
        raise AssertionError(f"trainable parameters: built {got}, config implies {expected}")
    log.info(
        "built Flamingo: %d trainable parameters of %d",
        got,
        sum(p.numel() for p in model.parameters()),
    )
    return model, tokenizer, transform


def read_saved_config(directory: str | os.PathLike) -> FlamingoConfig:
    """The config ``Flamingo.save_pretrained`` wrote, with a saved tower's weights file (named
    relative to the folder) resolved to its path."""
    with open(os.path.join(directory, CONFIG_FILE)) as f:
        config = from_dict(FlamingoConfig, json.load(f))
    pretrained = config.vision.pretrained
    if config.vision.custom is not None and pretrained and not os.path.isabs(pretrained):
        config.vision.pretrained = os.path.join(os.path.abspath(directory), pretrained)
    return config


def load_flamingo(directory: str | os.PathLike) -> Flamingo:
    """A model written by ``Flamingo.save_pretrained``: rebuild the config's named backbones
    (and a pretrained custom tower from its saved file), then load the trainable weights
    (safetensors; nothing is unpickled)."""
    from safetensors.torch import load_file

    model, _, _ = build_flamingo(read_saved_config(directory))
    model.load_trainable(load_file(os.path.join(directory, WEIGHTS_FILE)))
    return model
