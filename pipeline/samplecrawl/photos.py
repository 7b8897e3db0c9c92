"""Image bytes for the sample crawl: crops of the photos scikit-image ships, and small drawings.

Only photos that scikit-image bundles with the package are used (no pooch downloads), so the
crawl builds offline. Every image is derived by crop, resize and encoder settings, so distinct
specs give distinct bytes; the same spec always gives the same bytes (Pillow's encoders are
deterministic for fixed settings), which keeps the WARC byte-identical across builds.
"""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw, ImageFont

from pipeline.samplecrawl.model import ImageSpec

# skimage.data loaders that read files shipped inside the wheel (checked offline)
PHOTOS = (
    "astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
    "retina", "camera", "coins", "moon", "clock", "motorcycle", "colorwheel", "brick", "grass",
)


@functools.lru_cache(maxsize=None)
def load_photo(name: str) -> Image.Image:
    """The named scikit-image photo as a PIL image (RGB, or L for grayscale sources)."""
    from skimage import data

    if name not in PHOTOS:
        raise KeyError(f"not a shipped photo: {name}")
    arr = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    img = Image.fromarray(arr)
    return img.convert("RGB") if img.mode not in ("RGB", "L") else img


def _photo(spec: ImageSpec) -> Image.Image:
    src = load_photo(spec.source)
    w, h = src.size
    left, top, right, bottom = spec.box
    crop = src.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))
    height = spec.height or max(1, round(crop.height * spec.width / crop.width))
    return crop.resize((spec.width, height), Image.Resampling.LANCZOS)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _wordmark(spec: ImageSpec) -> Image.Image:
    """A site logo: the site's name on a coloured block with a simple emblem."""
    w, h = spec.width, spec.height or spec.width // 2
    img = Image.new("RGB", (w, h), spec.color)
    draw = ImageDraw.Draw(img)
    r = h // 4
    draw.ellipse((h // 8, h // 2 - r, h // 8 + 2 * r, h // 2 + r), fill=(245, 235, 200))
    draw.text((h // 8 + 2 * r + 10, h // 2), spec.text, fill="white", font=_font(h // 6),
              anchor="lm")
    return img


def _initials(spec: ImageSpec) -> Image.Image:
    """A default forum avatar: initials in a coloured disc."""
    s = spec.width
    img = Image.new("RGB", (s, s), (250, 250, 250))
    draw = ImageDraw.Draw(img)
    draw.ellipse((0, 0, s - 1, s - 1), fill=spec.color)
    draw.text((s // 2, s // 2), spec.text, fill="white", font=_font(s // 2), anchor="mm")
    return img


def _pixel(spec: ImageSpec) -> Image.Image:
    img = Image.new("P", (spec.width, spec.height or spec.width), 0)
    img.info["transparency"] = 0
    return img


def _svg(spec: ImageSpec) -> bytes:
    # a share icon as a designer would export it
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">'
        f'<title>{spec.text}</title><circle cx="12" cy="3" r="2"/><circle cx="4" cy="8" r="2"/>'
        '<circle cx="12" cy="13" r="2"/><path d="M5.7 7l4.6-2.8M5.7 9l4.6 2.8" stroke="#000"/>'
        "</svg>\n"
    ).encode()


_DRAWERS = {"photo": _photo, "wordmark": _wordmark, "initials": _initials, "pixel": _pixel}


def render(spec: ImageSpec) -> bytes:
    """Encode the image that ``spec`` describes."""
    if spec.kind == "svg":
        return _svg(spec)
    img = _DRAWERS[spec.kind](spec)
    buf = io.BytesIO()
    if spec.fmt == "JPEG":
        img.save(buf, format="JPEG", quality=spec.quality, progressive=spec.quality % 2 == 1)
    elif spec.fmt == "WEBP":
        img.save(buf, format="WEBP", quality=spec.quality, method=4)
    else:
        img.save(buf, format=spec.fmt)
    return buf.getvalue()


MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
        "SVG": "image/svg+xml"}
