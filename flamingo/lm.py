"""Adapter over a frozen Hugging Face causal LM, by composition.

Shapes: ``B`` batch, ``L`` text length, ``D`` LM width, ``M`` visual tokens.

* ``load_lm`` builds the LM from a config dict (random init), a local dir, a hub
  name, or a GGUF file (dequantised by transformers).
* ``find_decoder_layers`` locates the decoder-layer ``ModuleList`` for the common
  families (LLaMA/Mistral/Qwen2/Phi/Gemma, GPT-2/GPT-J/Falcon/Bloom, OPT, GPT-NeoX,
  MPT), falling back to the ``ModuleList`` with ``num_hidden_layers`` entries.
* ``FlamingoLayer`` wraps one decoder layer: at build time it replaces that entry of
  the list, runs the gated cross-attention block (if any) on the hidden states, then
  the untouched LM layer. No instance's ``forward`` is ever patched. The visual
  context of the current call reaches it through a shared ``MediaContext`` that the
  model fills before calling the LM and clears afterwards.
* ``ExtendedEmbedding`` / ``ExtendedHead`` add rows for the new tokens as separate
  small trainable tables next to the frozen originals, so only new rows train.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from flamingo.attention import register_lm_attention
from flamingo.config import BYTE_TOKENIZER, LMConfig
from flamingo.xattn import GatedCrossAttentionBlock

# attribute paths of the decoder-layer list, per family
_LAYER_PATHS = (
    "model.layers",  # LLaMA, Mistral, Qwen2, Phi, Phi-3, Gemma, SmolLM
    "model.decoder.layers",  # OPT
    "transformer.h",  # GPT-2, GPT-J, Falcon, Bloom
    "gpt_neox.layers",  # GPT-NeoX, Pythia
    "transformer.blocks",  # MPT
)


def resolve_path(name_or_path: str) -> str:
    """``package:<pkg>`` -> the directory of an installed package (without importing it)."""
    if not name_or_path.startswith("package:"):
        return name_or_path
    spec = importlib.util.find_spec(name_or_path.split(":", 1)[1])
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package for {name_or_path!r} is not installed")
    return next(iter(spec.submodule_search_locations))


def load_lm(cfg: LMConfig) -> nn.Module:
    """The frozen causal LM named by ``cfg``, in ``cfg.dtype``.

    An LM on transformers' SDPA attention is moved to ``flamingo.attention``'s, which is
    SDPA except in bf16/fp16 on a CPU, where two matrix products are faster."""
    from transformers import AutoConfig, AutoModelForCausalLM

    dtype = getattr(torch, cfg.dtype)
    if cfg.config is not None:
        conf = dict(cfg.config)
        hf_config = AutoConfig.for_model(conf.pop("model_type"), **conf)
        lm = AutoModelForCausalLM.from_config(hf_config, dtype=dtype)
    elif cfg.name_or_path is None:
        raise ValueError("LMConfig needs name_or_path or config")
    else:
        kwargs: dict[str, Any] = {"dtype": dtype}
        if cfg.gguf_file:
            kwargs["gguf_file"] = cfg.gguf_file
        lm = AutoModelForCausalLM.from_pretrained(resolve_path(cfg.name_or_path), **kwargs)
    if getattr(lm.config, "_attn_implementation", None) == "sdpa":
        lm.set_attn_implementation(register_lm_attention())
    return lm


def load_tokenizer(cfg: LMConfig) -> Any:
    from transformers import AutoTokenizer

    from flamingo.tokens import build_byte_tokenizer

    name = cfg.tokenizer or cfg.name_or_path
    if name == BYTE_TOKENIZER:
        return build_byte_tokenizer()
    if name is None:
        raise ValueError("LMConfig needs a tokenizer when built from a config dict")
    kwargs = {"gguf_file": cfg.gguf_file} if cfg.gguf_file and name == cfg.name_or_path else {}
    return AutoTokenizer.from_pretrained(resolve_path(name), **kwargs)


def find_decoder_layers(lm: nn.Module) -> tuple[nn.Module, str, nn.ModuleList]:
    """(parent module, attribute name, the decoder-layer ModuleList) of an HF causal LM."""
    for path in _LAYER_PATHS:
        *parents, attr = path.split(".")
        parent = lm
        for p in parents:
            parent = getattr(parent, p, None)
        layers = getattr(parent, attr, None) if parent is not None else None
        if isinstance(layers, nn.ModuleList):
            return parent, attr, layers
    n = lm.config.num_hidden_layers
    for name, module in lm.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == n:
            parent_name, _, attr = name.rpartition(".")
            return lm.get_submodule(parent_name), attr, module
    raise ValueError(f"cannot find the decoder layers of {type(lm).__name__}")


@dataclass
class MediaContext:
    """Visual context of one LM call, shared by all ``FlamingoLayer``s of a model."""

    media: torch.Tensor | None = None  # (B, M, Dv) visual tokens
    mask: torch.Tensor | None = None  # (B, L, M) bool
    has_media: torch.Tensor | None = None  # (B, L) bool

    def clear(self) -> None:
        self.media = self.mask = self.has_media = None


class FlamingoLayer(nn.Module):
    """[gated XATTN-DENSE] -> frozen LM decoder layer. Other attributes read through to the layer."""

    def __init__(
        self,
        decoder_layer: nn.Module,
        xattn: GatedCrossAttentionBlock | None,
        context: MediaContext,
    ) -> None:
        super().__init__()
        self.decoder_layer = decoder_layer
        self.xattn = xattn
        self.context = context  # plain dataclass: not a submodule, holds no parameters
        self.checkpointing = False
        self.compiled_run = None  # torch.compile(self._run), set by Flamingo.compile: training steps

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            # HF models read per-layer attributes (e.g. ``attention_type``) off the list entries.
            return getattr(super().__getattr__("decoder_layer"), name)

    def _run(self, hidden: torch.Tensor, media, mask, has_media, args, kwargs):
        if self.xattn is not None:
            dtype = self.xattn.attn_gate.dtype
            media = media.to(dtype) if media is not None else None
            hidden = self.xattn(hidden.to(dtype), media, mask, has_media).to(hidden.dtype)
        return self.decoder_layer(hidden, *args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if "hidden_states" in kwargs:
            hidden, rest = kwargs.pop("hidden_states"), args
        else:
            hidden, rest = args[0], args[1:]
        ctx = self.context  # read now: a checkpoint recompute runs after the context is cleared
        call = (hidden, ctx.media, ctx.mask, ctx.has_media, rest, kwargs)
        if not torch.is_grad_enabled():  # generation, evaluation: eager (a KV cache grows each step)
            return self._run(*call)
        run = self.compiled_run or self._run
        if self.checkpointing:
            return checkpoint(run, *call, use_reentrant=False)
        return run(*call)


class ExtendedEmbedding(nn.Module):
    """Frozen token embedding for ids < ``first_new``; a trainable table for the new ids."""

    def __init__(self, base: nn.Embedding, first_new: int, num_new: int) -> None:
        super().__init__()
        self.base = base
        self.first_new = first_new
        self.new = nn.Embedding(num_new, base.embedding_dim, dtype=torch.float32)
        # new rows start at the mean of the old ones: a neutral point the LM already knows
        with torch.no_grad():
            self.new.weight.copy_(
                base.weight[:first_new].float().mean(0, keepdim=True).expand(num_new, -1)
            )

    @property
    def weight(self) -> torch.Tensor:
        # transformers reads ``get_input_embeddings().weight`` for dtype/device checks
        return self.base.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        is_new = ids >= self.first_new
        out = self.base(torch.where(is_new, torch.zeros_like(ids), ids))  # (B, L, D)
        new = self.new(torch.where(is_new, ids - self.first_new, torch.zeros_like(ids))).to(
            out.dtype
        )
        return torch.where(is_new[..., None], new, out)


class ExtendedHead(nn.Module):
    """Logits over the tokenizer's vocabulary: frozen rows [:first_new] + trainable new rows."""

    def __init__(
        self, base: nn.Linear, first_new: int, new_embedding: nn.Embedding | None, num_new: int
    ) -> None:
        super().__init__()
        self.base = base
        self.first_new = first_new
        self.new = nn.Linear(base.in_features, num_new, bias=False, dtype=torch.float32)
        if new_embedding is not None:
            self.new.weight = new_embedding.weight  # the LM ties input and output rows: so do we

    @property
    def weight(self) -> torch.Tensor:
        return self.base.weight

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, L, D) -> (B, L, first_new + num_new); the LM's padding rows (if any) are dropped."""
        logits = self.base(hidden)
        if logits.shape[-1] != self.first_new:
            logits = logits[..., : self.first_new]
        new = self.new(hidden.to(self.new.weight.dtype)).to(logits.dtype)
        return torch.cat((logits, new), dim=-1)
