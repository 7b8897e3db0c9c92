"""The loader's fast eval preprocessing gives the very tensors of open_clip's transform."""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from train.preprocess import EvalTransform, fast_eval_transform


@pytest.mark.parametrize("tower", [32, 224])
@pytest.mark.parametrize("size,mode", [((64, 64), "RGB"), ((300, 200), "RGB"), ((199, 401), "RGB"),
                                       ((224, 224), "RGB"), ((33, 32), "L"), ((500, 90), "RGBA")])
def test_bit_identical_to_open_clip(tower, size, mode):
    reference = open_clip.image_transform(tower, is_train=False)
    fast = fast_eval_transform(reference)
    assert isinstance(fast, EvalTransform)
    pixels = np.random.default_rng(sum(size)).integers(0, 256, (size[1], size[0], len(mode)), dtype=np.uint8)
    image = Image.fromarray(pixels.squeeze(-1) if mode == "L" else pixels, mode)
    assert torch.equal(fast(image), reference(image))


def test_other_transforms_are_left_alone():
    train_time = open_clip.image_transform(32, is_train=True)
    assert fast_eval_transform(train_time) is train_time
    squash = open_clip.image_transform(32, is_train=False, resize_mode="squash")
    assert fast_eval_transform(squash) is squash
