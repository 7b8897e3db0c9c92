"""Pixel-array steps of the image stage: resize, EXIF orientation, grey; arrays in, arrays out.

Shapes: ``(H, W, 3)`` uint8 RGB arrays, ``(H, W)`` for grey; sizes are ``(width, height)``
as in Pillow.

Why OpenCV here and not Pillow: after JPEG DCT scaling (``draft``) an image is between
one and two times its target size, and Pillow's antialiasing resamplers convolve every
input row in scalar C: 1.2 ms per photo with BICUBIC, 0.5 ms with BOX, against ~0.1 ms
for OpenCV's SIMD resize with the copies around it (bench/README.md, "Images"). Only
already-decoded arrays reach OpenCV; the decoders are Pillow's and, for JPEGs,
libjpeg-turbo's (``jpegcodec``), behind the format allowlist. OpenCV is imported on first
use, so ``import pipeline.images`` stays light (a test checks it).
"""

from __future__ import annotations

import numpy as np

_cv2 = None


def cv2():
    """OpenCV, imported once on first use (~0.2 s)."""
    global _cv2
    if _cv2 is None:
        import cv2 as module

        # The image stage already runs one image per fetcher thread: OpenCV's own thread pool
        # would split each small resize again and spin-wait for its helpers.
        module.setNumThreads(1)
        _cv2 = module
    return _cv2


def resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) -> (height, width, C) at ``size`` = (width, height).

    Downscaling by at most 2 (every JPEG after DCT scaling) is bilinear, whose 2x2 taps
    then cover the source pixels under each output pixel; by more than 2, area
    averaging (no aliasing whatever the factor); upscaling, bicubic.
    """
    height, width = pixels.shape[:2]
    if (width, height) == tuple(size):
        return pixels
    cv = cv2()
    factor = min(width / size[0], height / size[1])
    if factor > 2:
        interpolation = cv.INTER_AREA
    elif factor >= 1:
        interpolation = cv.INTER_LINEAR
    else:
        interpolation = cv.INTER_CUBIC
    return cv.resize(pixels, tuple(size), interpolation=interpolation)


def orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) as ``PIL.ImageOps.exif_transpose`` does; a view, no copy."""
    if orientation == 2:
        return pixels[:, ::-1]  # mirrored left-right
    if orientation == 3:
        return pixels[::-1, ::-1]  # rotated 180
    if orientation == 4:
        return pixels[::-1]  # mirrored top-bottom
    if orientation == 5:
        return pixels.swapaxes(0, 1)  # transposed across the main diagonal
    if orientation == 6:
        return np.rot90(pixels, -1)  # rotated 90 clockwise
    if orientation == 7:
        return pixels[::-1, ::-1].swapaxes(0, 1)  # transposed across the other diagonal
    if orientation == 8:
        return np.rot90(pixels, 1)  # rotated 90 counter-clockwise
    return pixels


def grey(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> (H, W) luma, ITU-R 601 weights (Pillow's ``convert("L")``)."""
    if pixels.ndim == 2:
        return pixels
    return cv2().cvtColor(pixels, cv2().COLOR_RGB2GRAY)
