"""64-bit perceptual hash (pHash) so the corpus job can drop images repeated across pages.

DCT of a 32x32 grayscale thumbnail, keep the 8x8 lowest frequencies, one bit
per coefficient above their median: robust to re-encoding and resizing, the
variant of the ``imagehash`` package. Written here with precomputed matrices in
numpy rather than adding imagehash, which pulls scipy and PyWavelets in for this
one function.

The thumbnail is an exact area average of the stored pixels, and it is never made:
area averaging and the DCT are both linear, so per side they fold into one (8, n)
matrix (the 8 lowest DCT rows times the 32-cell averaging weights, cached per side
length) and the 8x8 coefficients are two small products of the grey image. That is
~0.05 ms per 256 px image, where OpenCV's ``INTER_AREA`` to 32x32 (not an integer
factor) alone took 0.07 ms and the whole hash 0.12 ms; before that, imagehash's Pillow
LANCZOS took ~0.3 ms. Hashes differ from those in a few bits (tests/test_images_process.py
checks near duplicates and distinct photos).
"""

from __future__ import annotations

import functools

import numpy as np

from pipeline.images.pixels import cv2, grey

_N = 32
_K = 8
_k = np.arange(_N)
# Orthonormal DCT-II matrix: row u, column x = cos(pi * (2x + 1) * u / 2N), scaled.
_DCT = np.sqrt(2.0 / _N) * np.cos(np.pi * (2 * _k[None, :] + 1) * _k[:, None] / (2 * _N))
_DCT[0] /= np.sqrt(2.0)
_LARGE = 1024  # a longer side is first area-averaged to 8 cells per thumbnail cell (256)


def phash(pixels: np.ndarray) -> str:
    """The pHash of an (H, W, 3) RGB or (H, W) grey uint8 array as 16 lowercase hex digits."""
    luma = grey(pixels)  # (H, W)
    if max(luma.shape) > _LARGE:  # unresized originals ("no" mode): the same average in two stages
        luma = cv2().resize(luma, (8 * _N, 8 * _N), interpolation=cv2().INTER_AREA)  # (256, 256)
    luma = luma.astype(np.float32)
    height, width = luma.shape
    low = (_low_rows(height) @ luma) @ _low_rows(width).T  # (8, H) (H, W) (W, 8) -> (8, 8)
    bits = (low > np.median(low)).flatten()
    return np.packbits(bits).tobytes().hex()  # first coefficient = most significant bit


def phash_distance(a: str, b: str) -> int:
    """Hamming distance between two hex hashes (0 = same picture, <= 10 usually near-duplicates)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


@functools.lru_cache(maxsize=_LARGE)  # at most 1024 sides of <= 32 KiB each
def _low_rows(n: int) -> np.ndarray:
    """(8, n): the 8 lowest DCT rows applied to the 32-cell area average of n samples."""
    return (_DCT[:_K] @ _area(n)).astype(np.float32)


def _area(n: int) -> np.ndarray:
    """(32, n) weights: cell i is the mean of the samples under [i n/32, (i+1) n/32), partly
    covered samples weighted by their covered fraction (what ``INTER_AREA`` computes)."""
    step = n / _N
    edges = np.arange(_N + 1) * step
    x = np.arange(n)
    covered = np.minimum(edges[1:, None], x[None, :] + 1) - np.maximum(edges[:-1, None], x[None, :])
    return np.clip(covered, 0, None) / step
