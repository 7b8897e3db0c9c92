"""Attention kernels: PyTorch's fused SDPA, except in bf16/fp16 on a CPU.

Shapes: ``B`` batch, ``h`` heads, ``q`` / ``k`` query and key lengths, ``d`` head size.

``scaled_dot_product_attention``'s CPU kernels are slow in reduced precision: at a causal
LM layer's shape (B 4, h 6, 128 tokens, d 64), one thread, forward + backward in bf16,
the flash kernel takes ~2.8x and the math one ~1.8x the time of two matrix products and
a softmax, while in fp32 the flash kernel is the fastest (``bench/attention.py``; figures
in bench/README.md). So ``attention`` takes the products in bf16/fp16 (or under such an
autocast) on a CPU and SDPA everywhere else (GPUs, fp32), and the frozen LM gets the same
rule through transformers' attention interface (``LM_ATTENTION``, set by
``flamingo.lm.load_lm`` on an LM that was on SDPA), which hands every other call to
transformers' own SDPA function unchanged.

The product path keeps SDPA's meaning: boolean masks say which keys a query may see,
float masks are added to the scores, and a query row that sees no key gets a uniform
(finite) softmax instead of NaN. The softmax runs on the reduced-precision scores
(PyTorch's CPU kernel accumulates in fp32 and rounds once); tests compare with SDPA.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LM_ATTENTION = "flamingo_sdpa"  # the name the frozen LM's attention is registered under in transformers
_REDUCED = (torch.bfloat16, torch.float16)


def use_products(query: torch.Tensor) -> bool:
    """Whether ``attention`` computes this query by matrix products rather than SDPA: on a CPU,
    in bf16/fp16 or under bf16/fp16 autocast (which casts an fp32 query, e.g. one that rotary
    embeddings promoted, before SDPA)."""
    if query.device.type != "cpu":
        return False
    if torch.is_autocast_enabled("cpu"):
        return torch.get_autocast_dtype("cpu") in _REDUCED
    return query.dtype in _REDUCED


def product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    is_causal: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    """q (B, h, q, d), k and v (B, h, k, d), mask broadcastable to (B, h, q, k) -> (B, h, q, d)."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale  # (B, h, q, k)
    if is_causal:
        causal = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
        mask = causal if mask is None else mask & causal
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + mask.to(scores.dtype)
    return torch.matmul(scores.softmax(-1), v)


def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """``F.scaled_dot_product_attention(q, k, v, attn_mask=mask)`` by the faster kernel here."""
    if use_products(q):
        return product_attention(q, k, v, mask)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def lm_attention_forward(module, query, key, value, attention_mask, dropout=0.0, scaling=None,
                         is_causal=None, **kwargs):
    """transformers' attention-interface signature: SDPA's, with the product path on CPU in bf16.

    Anything the product path does not cover (dropout, position biases, soft-capping,
    attention weights asked for) goes to transformers' own SDPA function unchanged."""
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    plain = dropout == 0.0 and kwargs.get("position_bias") is None and kwargs.get("softcap") is None
    if not (plain and use_products(query)):
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
            is_causal=is_causal, **kwargs,
        )
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    causal = query.shape[2] > 1 and attention_mask is None and causal
    if causal and key.shape[2] > query.shape[2]:  # SDPA's is_causal aligns to the top left, so does this
        key, value = key[:, :, : query.shape[2]], value[:, :, : query.shape[2]]
    out = product_attention(query, key, value, attention_mask, is_causal=causal, scale=scaling)
    return out.transpose(1, 2).contiguous(), None


def register_lm_attention() -> str:
    """Register ``LM_ATTENTION`` with transformers (attention and mask functions: SDPA's masks)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    AttentionInterface.register(LM_ATTENTION, lm_attention_forward)
    AttentionMaskInterface.register(LM_ATTENTION, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    return LM_ATTENTION
