"""64-bit perceptual hash (pHash) so the corpus job can drop images repeated across pages.

DCT of a 32x32 grayscale thumbnail, keep the 8x8 lowest frequencies, one bit
per coefficient above their median: robust to re-encoding and resizing, the
variant of the ``imagehash`` package. Written here with a precomputed DCT
matrix in numpy (two small matmuls) rather than adding imagehash, which pulls
scipy and PyWavelets in for this one function.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

_N = 32
_K = 8
_k = np.arange(_N)
# Orthonormal DCT-II matrix: row u, column x = cos(pi * (2x + 1) * u / 2N), scaled.
_DCT = np.sqrt(2.0 / _N) * np.cos(np.pi * (2 * _k[None, :] + 1) * _k[:, None] / (2 * _N))
_DCT[0] /= np.sqrt(2.0)


def phash(image: Image.Image) -> str:
    """The pHash of ``image`` as 16 lowercase hex digits."""
    small = image.convert("L").resize((_N, _N), Image.Resampling.LANCZOS)
    pixels = np.asarray(small, dtype=np.float64)  # (32, 32)
    low = (_DCT @ pixels @ _DCT.T)[:_K, :_K]  # (8, 8) lowest frequencies
    bits = (low > np.median(low)).flatten()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def phash_distance(a: str, b: str) -> int:
    """Hamming distance between two hex hashes (0 = same picture, <= 10 usually near-duplicates)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
