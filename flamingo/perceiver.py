"""Perceiver Resampler: a variable number of visual features -> a fixed number of tokens.

Shapes: ``B`` batch, ``T`` image slots, ``F`` frames, ``v`` patch tokens per frame,
``n`` latents, ``D`` vision width.

As in the Flamingo paper (Alayrac et al. 2022, Fig. 4): learned time embeddings are
added per frame, frames are flattened into one sequence, and ``n`` learned latents
cross-attend to the concatenation ``[features; latents]`` (keys and values), each
layer followed by a feed-forward, depth 6 and 64 latents by default. Every image
yields ``n`` tokens whatever its frame count. Attention runs through PyTorch's fused
``scaled_dot_product_attention`` (``flamingo.attention``: matrix products in bf16 on a CPU).
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from flamingo.attention import attention


def feed_forward(dim: int, mult: int) -> nn.Sequential:
    """Pre-norm MLP without biases (as in the paper's reference implementations)."""
    return nn.Sequential(
        nn.LayerNorm(dim),
        nn.Linear(dim, dim * mult, bias=False),
        nn.GELU(),
        nn.Linear(dim * mult, dim, bias=False),
    )


class PerceiverAttention(nn.Module):
    """Latents attend to [media; latents]."""

    def __init__(self, *, dim: int, dim_head: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        inner = dim_head * heads
        self.norm_media = nn.LayerNorm(dim)
        self.norm_latents = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, media: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        """media (B*T, F*v, D), latents (B*T, n, D) -> (B*T, n, D)."""
        media = self.norm_media(media)
        latents = self.norm_latents(latents)
        q = self.to_q(latents)
        k, v = self.to_kv(torch.cat((media, latents), dim=1)).chunk(2, dim=-1)
        q, k, v = (rearrange(t, "b s (h d) -> b h s d", h=self.heads) for t in (q, k, v))
        out = attention(q, k, v)  # (B*T, h, n, d)
        return self.to_out(rearrange(out, "b h s d -> b s (h d)"))


class PerceiverResampler(nn.Module):
    def __init__(
        self,
        *,
        dim: int,
        depth: int = 6,
        num_latents: int = 64,
        heads: int = 8,
        dim_head: int = 64,
        max_frames: int = 1,
        ff_mult: int = 4,
    ) -> None:
        super().__init__()
        self.latents = nn.Parameter(torch.randn(num_latents, dim) * 0.02)
        self.frame_embs = nn.Parameter(torch.randn(max_frames, dim) * 0.02)
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    PerceiverAttention(dim=dim, dim_head=dim_head, heads=heads),
                    feed_forward(dim, ff_mult),
                ]
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, F, v, D) -> (B, T, n, D)."""
        b, t, f = x.shape[:3]
        if f > self.frame_embs.shape[0]:
            raise ValueError(
                f"{f} frames but the resampler was built for {self.frame_embs.shape[0]}"
            )
        x = x + self.frame_embs[:f, None, :]  # (B, T, F, v, D): time embedding per frame
        x = rearrange(x, "b t f v d -> (b t) (f v) d")
        latents = self.latents.expand(b * t, -1, -1)  # (B*T, n, D)
        for attn, ff in self.layers:
            latents = latents + attn(x, latents)
            latents = latents + ff(latents)
        return rearrange(self.norm(latents), "(b t) n d -> b t n d", b=b, t=t)
