"""The frozen vision tower: any open_clip vision model -> patch tokens.

Shapes: ``B`` batch, ``T`` image slots, ``F`` frames, ``C,H,W`` pixels, ``v`` patch
tokens per frame, ``Dv`` vision width.

Flamingo conditions on the spatial feature grid, not the pooled embedding, so the
tower returns its final patch tokens: open_clip ViTs hand them out with
``output_tokens`` (after the final LayerNorm, class token excluded); other towers
(timm, ConvNeXt) through ``forward_intermediates`` as a flattened grid. The tower is
frozen, always in eval mode, and run without autograd: no gradient ever reaches it.
A custom tower is randomly initialised, or loads the weights a recipe pretrained it to
(``VisionConfig.pretrained``: a safetensors file of its state dict; ``train/tower.py``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import torch
from einops import rearrange
from torch import nn

from flamingo.config import VisionConfig

log = logging.getLogger(__name__)


def save_tower_weights(visual: nn.Module, path: str) -> None:
    """A custom tower's weights as safetensors, the file ``VisionConfig.pretrained`` names."""
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous() for k, v in visual.state_dict().items()}, path)


def build_open_clip_tower(cfg: VisionConfig) -> tuple[nn.Module, Callable[[Any], torch.Tensor]]:
    """The vision tower and its own eval preprocessing (PIL image -> (C, H, W) float)."""
    import open_clip

    if cfg.custom is not None:
        # open_clip's own builder for a vision tower from a CLIPVisionCfg: no text tower built.
        from open_clip.model import CLIPVisionCfg, _build_vision_tower

        vision_cfg = CLIPVisionCfg(**cfg.custom)
        visual = _build_vision_tower(embed_dim=vision_cfg.width, vision_cfg=vision_cfg)
        transform = open_clip.image_transform(vision_cfg.image_size, is_train=False)
        if cfg.pretrained:  # weights a recipe trained (train/tower.py), as safetensors: nothing unpickled
            from safetensors.torch import load_file

            visual.load_state_dict(load_file(cfg.pretrained))
        return visual.to(getattr(torch, cfg.dtype)), transform
    clip = open_clip.create_model(cfg.model_name, pretrained=cfg.pretrained)
    pp = clip.visual.preprocess_cfg
    transform = open_clip.image_transform(
        clip.visual.image_size,
        is_train=False,
        mean=pp.get("mean"),
        std=pp.get("std"),
        resize_mode=pp.get("resize_mode"),
        interpolation=pp.get("interpolation"),
    )
    return clip.visual.to(getattr(torch, cfg.dtype)), transform


class VisionEncoder(nn.Module):
    """Frozen tower: (B, T, F, C, H, W) -> (B, T, F, v, Dv) patch tokens."""

    def __init__(self, visual: nn.Module) -> None:
        super().__init__()
        self.visual = visual
        self._has_token_output = hasattr(visual, "output_tokens")
        if self._has_token_output:
            visual.output_tokens = True  # a constructor option of open_clip's ViT, not a patch
        self.requires_grad_(False)
        self.eval()
        self.dim = self._probe_width()

    def train(self, mode: bool = True) -> VisionEncoder:
        return super().train(False)  # frozen: dropout and norms stay in inference behaviour

    def _probe_width(self) -> int:
        size = self.visual.image_size
        h, w = (size, size) if isinstance(size, int) else size
        return self._tokens(torch.zeros(1, 3, h, w)).shape[-1]

    def _own_dtype(self, x: torch.Tensor) -> tuple[torch.Tensor, contextlib.AbstractContextManager]:
        """The input in the tower's dtype, and a context that turns autocast off: the tower runs in
        the dtype it is stored in (``VisionConfig.dtype``). Under CPU autocast an fp32 open_clip ViT
        took 72 ms against 34 ms in fp32 and 19 ms stored in bf16 (bench/model.py's tower, one
        thread): autocast sends its attention's packed projection of a transposed input through a
        batched product over a weight copied once per token."""
        return x.to(next(self.visual.parameters()).dtype), torch.autocast(x.device.type, enabled=False)

    @torch.no_grad()
    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, v, Dv)."""
        x, own = self._own_dtype(x)
        with own:
            if self._has_token_output:
                return self.visual(x)[1]
            out = self.visual.forward_intermediates(x, indices=1, intermediates_only=True)
        grid = out["image_intermediates"][-1]  # (N, Dv, h, w)
        return rearrange(grid, "n d h w -> n (h w) d")

    @torch.no_grad()
    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, E): the tower's pooled (and projected) image embedding, as CLIP
        retrieval uses it; evaluation's RICES ranks demonstrations by its cosine similarity."""
        x, own = self._own_dtype(images)
        with own:
            out = self.visual(x)
        return out[0] if self._has_token_output else out

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, T, F, C, H, W) -> (B, T, F, v, Dv), in the tower's dtype."""
        b, t, f = images.shape[:3]
        tokens = self._tokens(rearrange(images, "b t f c h w -> (b t f) c h w"))
        return rearrange(tokens, "(b t f) v d -> b t f v d", b=b, t=t, f=f)
