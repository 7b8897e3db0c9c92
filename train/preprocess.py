"""The vision tower's eval preprocessing without torchvision's per-call dispatch.

open_clip's eval transform is ``Compose([Resize(s, bicubic), CenterCrop(s), MaybeConvertMode,
MaybeToTensor, Normalize(mean, std)])``. On the small images the loader decodes (DCT-scaled
JPEGs), its Python dispatch cost about as much as decoding (0.4 ms per image, profiled on the
tiny preset). ``fast_eval_transform`` recognises exactly that composition and returns
``EvalTransform``, which runs the same Pillow and torch operations in the same order, so its
tensors are bit-identical (``tests/test_train_preprocess.py``); anything else is returned as is.

Shapes: a PIL image in, ``(C, s, s)`` float32 out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from PIL import Image


class EvalTransform:
    """Shorter side to ``size`` (bicubic), centre crop ``size`` x ``size``, RGB, [0, 1], normalised."""

    def __init__(self, size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.size = size
        self.mean = torch.as_tensor(mean, dtype=torch.get_default_dtype()).view(-1, 1, 1)
        self.std = torch.as_tensor(std, dtype=torch.get_default_dtype()).view(-1, 1, 1)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        s = self.size
        w, h = image.size
        short, long = (w, h) if w <= h else (h, w)
        # torchvision's _compute_resized_output_size (shorter side to s, the other truncated)
        new_short, new_long = s, int(s * long / short)
        new = (new_short, new_long) if w <= h else (new_long, new_short)  # (width, height)
        if new != (w, h):
            image = image.resize(new, Image.Resampling.BICUBIC)
        w, h = image.size
        if (w, h) != (s, s):  # torchvision's center_crop: offsets rounded half to even
            top, left = int(round((h - s) / 2.0)), int(round((w - s) / 2.0))
            image = image.crop((left, top, left + s, top + s))
        if image.mode != "RGB":
            image = image.convert("RGB")
        pixels = torch.from_numpy(np.array(image, np.uint8, copy=True)).view(s, s, 3)  # (s, s, C)
        tensor = pixels.permute(2, 0, 1).contiguous().to(torch.get_default_dtype()).div(255)  # (C, s, s)
        return tensor.sub_(self.mean).div_(self.std)


def fast_eval_transform(transform: Callable) -> Callable:
    """``EvalTransform`` when ``transform`` is open_clip's eval composition, else ``transform``."""
    try:
        from open_clip.transform import MaybeConvertMode, MaybeToTensor
        from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize
    except ImportError:
        return transform
    steps = getattr(transform, "transforms", None)
    if not isinstance(transform, Compose) or [type(t) for t in steps or ()] != [
        Resize, CenterCrop, MaybeConvertMode, MaybeToTensor, Normalize
    ]:
        return transform
    resize, crop, convert, _, normalize = steps
    size = resize.size if isinstance(resize.size, int) else None
    if isinstance(resize.size, (list, tuple)) and len(resize.size) == 1:
        size = resize.size[0]
    if (
        size is None
        or resize.interpolation != InterpolationMode.BICUBIC
        or resize.max_size is not None
        or resize.antialias is False
        or tuple(crop.size) != (size, size)
        or convert.mode != "RGB"
        or normalize.inplace
    ):
        return transform
    return EvalTransform(size, tuple(normalize.mean), tuple(normalize.std))
