"""Which visual tokens each text token may attend to: pure functions, the cumsum trick.

Shapes: ``B`` batch, ``L`` text length, ``T`` image slots (T_img), ``n`` latents per image.

``text_time[b, l]`` counts the ``<image>`` tokens at or before position l of row b
(the k-th ``<image>`` token of a row stands for ``images[b, k-1]``). With
``only_attend_immediate`` a token sees the latents of image ``text_time`` only (the
last image before it, as in the paper); otherwise of every image up to it (the
paper's ablation). A token with ``text_time == 0`` sees no image at all: its
cross-attention output must be exactly zero, never NaN, so callers get both a mask
and a ``has_media`` flag (see ``xattn``).
"""

from __future__ import annotations

import torch


def text_time(
    input_ids: torch.Tensor, image_id: int, offset: torch.Tensor | None = None
) -> torch.Tensor:
    """(B, L) long: number of images at or before each position.

    ``offset`` (B,) is the count of images in tokens already processed (KV-cached
    generation feeds one token at a time and must continue the count).
    """
    times = torch.cumsum((input_ids == image_id).long(), dim=1)
    if offset is not None:
        times = times + offset[:, None]
    return times


def media_mask(
    times: torch.Tensor, num_images: int, only_attend_immediate: bool = True
) -> torch.Tensor:
    """(B, L) image counts -> (B, L, T) bool: may position l attend to image slot t."""
    slot = torch.arange(1, num_images + 1, device=times.device)  # (T,): slot t is the t-th image
    if only_attend_immediate:
        return times[..., None] == slot
    return times[..., None] >= slot


def expand_to_latents(mask: torch.Tensor, num_latents: int) -> torch.Tensor:
    """(B, L, T) -> (B, L, T*n): one column per visual token, images in slot order."""
    return mask.repeat_interleave(num_latents, dim=-1)


def check_image_count(times: torch.Tensor, num_images: int) -> None:
    """Refuse rows with more ``<image>`` tokens than image slots (they would attend nothing)."""
    most = int(times.max()) if times.numel() else 0
    if most > num_images:
        raise ValueError(f"a row has {most} <image> tokens but only {num_images} image slots")
