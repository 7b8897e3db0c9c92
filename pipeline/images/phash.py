"""64-bit perceptual hash (pHash) so the corpus job can drop images repeated across pages.

DCT of a 32x32 grayscale thumbnail, keep the 8x8 lowest frequencies, one bit
per coefficient above their median: robust to re-encoding and resizing, the
variant of the ``imagehash`` package. Written here with a precomputed DCT
matrix in numpy (two small matmuls) rather than adding imagehash, which pulls
scipy and PyWavelets in for this one function.

The thumbnail is an area average (OpenCV) of the stored pixels, not imagehash's
Pillow LANCZOS: ~0.1 ms instead of ~0.3 ms per 256 px image, and the same robustness
(tests/test_images_process.py); the hashes differ from imagehash's in a few bits.
"""

from __future__ import annotations

import numpy as np

from pipeline.images.pixels import cv2, grey

_N = 32
_K = 8
_k = np.arange(_N)
# Orthonormal DCT-II matrix: row u, column x = cos(pi * (2x + 1) * u / 2N), scaled.
_DCT = np.sqrt(2.0 / _N) * np.cos(np.pi * (2 * _k[None, :] + 1) * _k[:, None] / (2 * _N))
_DCT[0] /= np.sqrt(2.0)


def phash(pixels: np.ndarray) -> str:
    """The pHash of an (H, W, 3) RGB or (H, W) grey uint8 array as 16 lowercase hex digits."""
    small = cv2().resize(grey(pixels), (_N, _N), interpolation=cv2().INTER_AREA)  # (32, 32)
    low = (_DCT @ small.astype(np.float64) @ _DCT.T)[:_K, :_K]  # (8, 8) lowest frequencies
    bits = (low > np.median(low)).flatten()
    return np.packbits(bits).tobytes().hex()  # first coefficient = most significant bit


def phash_distance(a: str, b: str) -> int:
    """Hamming distance between two hex hashes (0 = same picture, <= 10 usually near-duplicates)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
