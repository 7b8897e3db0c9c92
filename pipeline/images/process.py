"""Decode, filter, resize, re-encode and hash one image; pure (bytes in, result out).

Pillow with an allowlist of formats replaces img2dataset's cv2 resizer: the
resize modes and filters follow img2dataset's, but Pillow lets us read the
pixel count from the header before decoding (bomb check), refuse truncated
files instead of decoding grey, apply EXIF orientation, and decode JPEGs at
1/2, 1/4 or 1/8 scale with ``draft`` (DCT scaling), which is most of the speed
on large photos. Pillow releases the GIL while decoding, resizing and
encoding, so fetch threads doing this work do not serialise each other.
"""

from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from pipeline.images.config import ImageConfig
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
        image, original = _open_checked(data, config)
        image = _decode(image, original, config)
        image = _resize(image, config)
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=config.jpeg_quality)  # no exif=: metadata stripped
    except Refusal as err:
        return ImageResult(url=url, status=err.reason, error=str(err))
    encoded = out.getvalue()
    return ImageResult(
        url=url,
        status="ok",
        data=encoded,
        ext="jpg",
        width=image.width,
        height=image.height,
        original_width=original[0],
        original_height=original[1],
        sha256=hashlib.sha256(encoded).hexdigest(),
        phash=phash(image),
    )


def _open_checked(data: bytes, config: ImageConfig) -> tuple[Image.Image, tuple[int, int]]:
    """Open (header only) and apply every check that needs no pixels."""
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
    if _orientation(image) in _ROTATED:
        width, height = height, width
    if min(width, height) < config.min_side:
        raise Refusal("too_small", f"{width}x{height}")
    if max(width, height) / max(1, min(width, height)) > config.max_aspect_ratio:
        raise Refusal("bad_aspect_ratio", f"{width}x{height}")
    return image, (width, height)


def _decode(image: Image.Image, original: tuple[int, int], config: ImageConfig) -> Image.Image:
    """Pixels of the first frame, upright, in RGB, at no less than the needed size."""
    if image.format == "JPEG" and config.resize_mode != "no":
        # DCT-domain downscale; draft keeps both sides >= the request, so the final resize
        # still does the filtering. Scaling is uniform, so EXIF rotation does not matter here.
        target = _target_size(image.size, config)
        image.draft("RGB", target)
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise Refusal("decompression_bomb", str(err)) from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise Refusal(_decode_reason(err), str(err)) from err
    return _to_rgb(upright)


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


def _resize(image: Image.Image, config: ImageConfig) -> Image.Image:
    size = _target_size(image.size, config)
    if size != image.size:
        # reducing_gap: a fast box reduction first, then bicubic on the last factor of 2-3.
        image = image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.5)
    if config.resize_mode == "center_crop":
        crop = min(config.image_size, *image.size)
        left, top = (image.width - crop) // 2, (image.height - crop) // 2
        image = image.crop((left, top, left + crop, top + crop))
    return image


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except (OSError, ValueError, SyntaxError):
        return 1
