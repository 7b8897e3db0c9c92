"""JPEG decoding straight to a reduced scale, and JPEG encoding, with libjpeg-turbo (``simplejpeg``).

Pillow decodes JPEGs with the same libjpeg-turbo, but through its incremental decoder: the file is
fed in chunks, rows are copied into Pillow's own image memory, then copied again into an array.
``simplejpeg`` calls TurboJPEG once, from the whole file into a new array, with the GIL released.
On the benchmark's photos (300-1600 px, bench/README.md, "Images") that is 1.11 ms per photo
instead of 1.32 ms at the same DCT scale, with the same accurate DCT and upsampling; encoding the
stored image is 0.15 ms instead of 0.20 ms, same 4:2:0 subsampling and the same bytes per image.

The scale is Pillow's ``draft`` rule (1/8, 1/4, 1/2 or 1: the smallest whose result is still at
least the target size), not TurboJPEG's M/8 scales, which score lower PSNR after the resize.

Only what it decodes exactly as Pillow would goes here: YCbCr and greyscale JPEGs whose
TurboJPEG header agrees with the size the caller checked (the pixel-count bomb check is made on
that size before anything is decoded). Everything else, and every file TurboJPEG calls corrupt
but not truncated (libjpeg warnings that Pillow ignores), is left to Pillow (``None``), so no
image is refused that was decoded before. A truncated file is refused by both, so it is
refused here without a second attempt.
"""

from __future__ import annotations

import numpy as np
import simplejpeg

_COLOURS = frozenset({"YCbCr", "Gray"})  # decoded to RGB exactly as Pillow's convert("RGB")
_SCALES = (8, 4, 2, 1)  # 1/8 ... 1: the DCT scales whose quality matches a full decode's


class Truncated(Exception):
    """The file ends before its image does."""


def decode(data: bytes, size: tuple[int, int], at_least: tuple[int, int] | None) -> np.ndarray | None:
    """(H, W, 3) RGB pixels of the JPEG ``data`` of stored ``size`` (width, height), DCT-scaled
    down to no less than ``at_least`` (None: full size); None to leave it to Pillow.

    Raises ``Truncated`` when the entropy-coded data ends early."""
    try:
        height, width, colour, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return None
    if (width, height) != size or colour not in _COLOURS:
        return None
    scale = _scale(size, at_least)
    try:
        pixels = simplejpeg.decode_jpeg(
            data, colorspace="RGB", min_width=-(-width // scale), min_height=-(-height // scale), strict=True
        )
    except ValueError as err:
        if "premature end of jpeg file" in str(err).lower():
            raise Truncated(str(err)) from err
        return None
    if pixels.shape[0] > height or pixels.shape[1] > width:
        return None  # cannot happen for a header that agrees; never trust a size unchecked
    return pixels


def encode(pixels: np.ndarray, quality: int) -> bytes:
    """(h, w, 3) RGB uint8 -> a JPEG with a bare JFIF header and nothing else (no metadata)."""
    return simplejpeg.encode_jpeg(
        np.ascontiguousarray(pixels), quality=quality, colorspace="RGB", colorsubsampling="420"
    )


def _scale(size: tuple[int, int], at_least: tuple[int, int] | None) -> int:
    """The largest of 8, 4, 2, 1 that divides no side below ``at_least`` (Pillow's ``draft``)."""
    if at_least is None:
        return 1
    room = min(size[0] // max(1, at_least[0]), size[1] // max(1, at_least[1]))
    return next(scale for scale in _SCALES if scale <= max(1, room))
