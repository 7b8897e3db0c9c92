"""Gated XATTN-DENSE: the trainable block inserted before frozen LM layers.

Shapes: ``B`` batch, ``L`` text length, ``M`` visual tokens (T images x n latents),
``D`` LM width, ``Dv`` visual width.

Cross-attention from text to visual tokens, then a dense feed-forward, each added
through ``tanh(gate)`` with the gate initialised at 0 (Flamingo, Fig. 4): at
initialisation the block is the identity and the model's logits equal the frozen
LM's exactly. Tokens that attend to no image get exactly zero from the attention:
their mask row is opened to every key (so the softmax is finite) and the output is
then zeroed, which keeps both values and gradients free of NaN.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from flamingo.attention import attention
from flamingo.perceiver import feed_forward


class MaskedCrossAttention(nn.Module):
    def __init__(self, *, dim: int, dim_visual: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads = heads
        inner = heads * dim_head
        self.norm = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim_visual, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(
        self, x: torch.Tensor, media: torch.Tensor, mask: torch.Tensor, has_media: torch.Tensor
    ) -> torch.Tensor:
        """x (B, L, D), media (B, M, Dv), mask (B, L, M) bool, has_media (B, L) bool -> (B, L, D)."""
        q = self.to_q(self.norm(x))
        k, v = self.to_kv(media).chunk(2, dim=-1)
        q, k, v = (rearrange(t, "b s (h d) -> b h s d", h=self.heads) for t in (q, k, v))
        safe_mask = mask | ~has_media[..., None]  # rows with no image: any finite softmax will do
        out = attention(q, k, v, safe_mask[:, None])  # (B, h, L, d)
        out = self.to_out(rearrange(out, "b h s d -> b s (h d)"))
        return out * has_media[..., None].to(out.dtype)


class GatedCrossAttentionBlock(nn.Module):
    def __init__(
        self, *, dim: int, dim_visual: int, heads: int, dim_head: int, ff_mult: int = 4
    ) -> None:
        super().__init__()
        self.attn = MaskedCrossAttention(
            dim=dim, dim_visual=dim_visual, heads=heads, dim_head=dim_head
        )
        self.attn_gate = nn.Parameter(torch.zeros(1))
        self.ff = feed_forward(dim, ff_mult)
        self.ff_gate = nn.Parameter(torch.zeros(1))

    def forward(
        self,
        x: torch.Tensor,
        media: torch.Tensor | None,
        mask: torch.Tensor | None,
        has_media: torch.Tensor | None,
    ) -> torch.Tensor:
        """x (B, L, D) -> (B, L, D). Without media (text only) only the gated dense part runs,
        exactly as for text that precedes every image."""
        if media is not None:
            x = x + self.attn(x, media, mask, has_media) * self.attn_gate.tanh()
        return x + self.ff(x) * self.ff_gate.tanh()
