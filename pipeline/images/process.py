"""Decode, filter, resize, re-encode and hash one image; pure (bytes in, result out).

Pillow opens every image, with an allowlist of formats (img2dataset decodes with cv2): it
lets us read the pixel count from the header before decoding (bomb check), refuse
truncated files instead of decoding grey, and read the EXIF orientation. JPEGs are then
decoded at 1/2, 1/4 or 1/8 scale (DCT scaling), which is most of the speed on large
photos: by libjpeg-turbo called directly (``jpegcodec``) for YCbCr and grey JPEGs, by
Pillow's ``draft`` for the rest (CMYK) and for files libjpeg-turbo only warns about. The
decoded pixels then go through ``pixels`` as one array: resized (OpenCV, on the small
DCT-scaled image), turned upright (a view; the EXIF block itself never reaches the
output), cropped, hashed (pHash) and encoded by libjpeg-turbo without metadata.
Decoding, resizing and encoding release the GIL, so fetch threads doing this work do
not serialise each other.

A JPEG that already fits (no resize or crop needed, upright, RGB) is not re-encoded: its
own coded image is stored with every metadata segment removed (``jpegstrip``), after that
stripped file has been decoded in full (for its pHash, and to refuse a truncated scan).

Costs per photo (bench/README.md, "Images"): DCT-scaled decode ~1.1 ms, resize
~0.1 ms, JPEG encode ~0.15 ms, pHash ~0.05 ms.
"""

from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from pipeline.images import jpegcodec
from pipeline.images import pixels as px
from pipeline.images.config import ImageConfig
from pipeline.images.jpegstrip import stripped_jpeg
from pipeline.images.phash import phash
from pipeline.images.records import ImageResult

# Installed once for the process: warnings.catch_warnings() is not thread-safe, and a
# bomb warning must become a refusal in every thread.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
_ROTATED = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_EXIF_ORIENTATION = 0x0112


class Refusal(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def process_image(data: bytes, config: ImageConfig, *, url: str = "") -> ImageResult:
    """Decode ``data`` and return the stored JPEG with metadata, or a refusal with a reason."""
    try:
        if len(data) > config.max_original_bytes:
            raise Refusal("too_large", f"{len(data)} bytes")
        image, original, orientation = _open_checked(data, config)
        kept = _as_it_is(data, image, original, orientation, config)
        if kept is not None:
            encoded, pixels = kept
        else:
            pixels = _decode(data, image, original, orientation, config)  # (H, W, 3), stored orientation
            pixels = _crop(px.orient(_resize(pixels, original, orientation, config), orientation), config)
            pixels = np.ascontiguousarray(pixels)  # (h, w, 3) upright, at the stored size
            # Only pixels reach the encoder, so metadata is stripped.
            encoded = jpegcodec.encode(pixels, config.jpeg_quality)
    except Refusal as err:
        return ImageResult(url=url, status=err.reason, error=str(err))
    return ImageResult(
        url=url,
        status="ok",
        data=encoded,
        ext="jpg",
        width=pixels.shape[1],
        height=pixels.shape[0],
        original_width=original[0],
        original_height=original[1],
        sha256=hashlib.sha256(encoded).hexdigest(),
        phash=phash(pixels),
    )


def _as_it_is(
    data: bytes, image: Image.Image, original: tuple[int, int], orientation: int, config: ImageConfig
) -> tuple[bytes, np.ndarray] | None:
    """(stored bytes, their pixels) for a JPEG stored without re-encoding, or None to re-encode.

    Only when nothing about the pixels would change: a JPEG already at its target size (no
    crop either), upright (no EXIF rotation to apply, and none may survive), RGB (not grey or
    CMYK, which are re-encoded as RGB). The stored bytes are the stripped file, decoded here in
    full: what is stored is what was checked.
    """
    if image.format != "JPEG" or image.mode != "RGB" or orientation != 1:
        return None
    if _target_size(original, config) != original or _crop_needed(original, config):
        return None
    stripped = stripped_jpeg(data)
    if stripped is None:
        return None
    try:
        pixels = jpegcodec.decode(stripped, original, None)
    except jpegcodec.Truncated:
        pixels = None
    if pixels is None:
        return None  # re-encoded from the original instead, which reports its own problem
    return stripped, pixels


def _crop_needed(size: tuple[int, int], config: ImageConfig) -> bool:
    return config.resize_mode == "center_crop" and min(config.image_size, *size) != max(size)


def _open_checked(data: bytes, config: ImageConfig) -> tuple[Image.Image, tuple[int, int], int]:
    """Open (header only) and apply every check that needs no pixels.

    Returns the image, its upright size and its EXIF orientation (1 when none)."""
    try:
        image = Image.open(io.BytesIO(data), formats=list(config.formats))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise Refusal("decompression_bomb", str(err)) from err
    except UnidentifiedImageError as err:
        raise Refusal("not_an_image", "not a JPEG, PNG, WEBP or GIF") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise Refusal(_decode_reason(err), str(err)) from err
    width, height = image.size
    if width * height > config.max_pixels:
        raise Refusal("decompression_bomb", f"{width}x{height} over {config.max_pixels} pixels")
    orientation = _orientation(image)
    if orientation in _ROTATED:
        width, height = height, width
    if min(width, height) < config.min_side:
        raise Refusal("too_small", f"{width}x{height}")
    if max(width, height) / max(1, min(width, height)) > config.max_aspect_ratio:
        raise Refusal("bad_aspect_ratio", f"{width}x{height}")
    return image, (width, height), orientation


def _decode(
    data: bytes, image: Image.Image, original: tuple[int, int], orientation: int, config: ImageConfig
) -> np.ndarray:
    """(H, W, 3) RGB pixels of the first frame, as stored (not yet upright), at no less than
    the needed size."""
    needed = _stored(_target_size(original, config), orientation) if config.resize_mode != "no" else None
    if image.format == "JPEG":
        try:
            pixels = jpegcodec.decode(data, image.size, needed)
        except jpegcodec.Truncated as err:
            raise Refusal("truncated", str(err)) from err
        if pixels is not None:
            return pixels
    if image.format == "JPEG" and needed is not None:
        # DCT-domain downscale; draft keeps both sides >= the request, so the final resize
        # still does the filtering. Asked in the stored orientation, as the decoder sees it.
        image.draft("RGB", needed)
    try:
        image.load()
        rgb = _to_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise Refusal("decompression_bomb", str(err)) from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise Refusal(_decode_reason(err), str(err)) from err
    return np.asarray(rgb)  # (H, W, 3) uint8


def _decode_reason(err: Exception) -> str:
    # Pillow reports short files as OSError/SyntaxError with "truncated" in the message.
    return (
        "truncated"
        if "truncat" in str(err).lower() or isinstance(err, EOFError)
        else "decode_error"
    )


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become white, as img2dataset does.
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _target_size(size: tuple[int, int], config: ImageConfig) -> tuple[int, int]:
    """The stored size before any crop: longest side (keep_ratio) or shortest side (center_crop) = image_size."""
    width, height = size
    side = max(width, height) if config.resize_mode == "keep_ratio" else min(width, height)
    if config.resize_mode == "no" or (config.resize_only_if_bigger and side <= config.image_size):
        return size
    scale = config.image_size / side
    return max(1, round(width * scale)), max(1, round(height * scale))


def _stored(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """An upright (width, height) as the stored, not yet rotated, pixels have it."""
    return (size[1], size[0]) if orientation in _ROTATED else size


def _resize(
    pixels: np.ndarray, original: tuple[int, int], orientation: int, config: ImageConfig
) -> np.ndarray:
    """Stored pixels -> stored pixels at the target size (from the upright original's)."""
    return px.resize(pixels, _stored(_target_size(original, config), orientation))


def _crop(pixels: np.ndarray, config: ImageConfig) -> np.ndarray:
    """(h, w, 3) upright -> the centred square of center_crop; a view."""
    if config.resize_mode != "center_crop":
        return pixels
    height, width = pixels.shape[:2]
    side = min(config.image_size, width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return pixels[top : top + side, left : left + side]


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except (OSError, ValueError, SyntaxError):
        return 1
