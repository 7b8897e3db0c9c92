"""pHash internals: the folded area-average + DCT equals the thumbnail it replaces."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.images.phash import _DCT, _area, phash, phash_distance
from pipeline.images.pixels import cv2


@pytest.mark.parametrize("shape", [(171, 256), (256, 86), (32, 32), (300, 1000), (20, 40)])
def test_area_weights_are_opencv_inter_area(shape):
    image = np.random.default_rng(0).random(shape, dtype=np.float32) * 255
    ours = _area(shape[0]) @ image @ _area(shape[1]).T  # (32, 32)
    reference = cv2().resize(image, (32, 32), interpolation=cv2().INTER_AREA)
    assert np.allclose(ours, reference, atol=1e-2)


def test_folded_hash_is_the_dct_of_the_area_thumbnail():
    rng = np.random.default_rng(1)
    smooth = cv2().resize(rng.integers(0, 256, (6, 9, 3), dtype=np.uint8), (300, 200), interpolation=cv2().INTER_CUBIC)
    for pixels in (smooth, cv2().resize(smooth, (3000, 2000))):  # resized output; an unresized large original
        thumb = cv2().resize(
            cv2().cvtColor(pixels, cv2().COLOR_RGB2GRAY).astype(np.float32), (32, 32), interpolation=cv2().INTER_AREA
        )
        low = (_DCT @ thumb @ _DCT.T)[:8, :8]
        expected = np.packbits((low > np.median(low)).flatten()).tobytes().hex()
        assert phash_distance(phash(pixels), expected) <= 2
