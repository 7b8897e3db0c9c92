"""Image bytes from shards, as the viewer serves and embeds them: the real content type from
the bytes themselves, and thumbnails decoded safely.

The viewer serves only bytes it read from a shard, with the type their first bytes prove
(JPEG, PNG or WebP: what the shard format stores); anything else is not served as an image.
Thumbnails are decoded with PIL limited to those three formats, after checking the pixel
count in the header, so a hostile shard cannot hand the decoder a bomb. No Beam, no torch.
"""

from __future__ import annotations

import base64
import io

MAX_THUMB_PIXELS = 1 << 26  # 64 megapixels: refuse to decode more for a thumbnail


def sniff(data: bytes) -> str | None:
    """The content type the bytes prove, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def thumbnail(data: bytes, max_side: int) -> bytes | None:
    """A JPEG at most ``max_side`` pixels on its longer side, or None when the bytes are not an
    image we decode. ``max_side`` 0 keeps the original bytes (if they are an image)."""
    if sniff(data) is None:
        return None
    if max_side <= 0:
        return data
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"]) as im:
            w, h = im.size
            if w * h > MAX_THUMB_PIXELS or w <= 0 or h <= 0:
                return None
            if max(w, h) <= max_side and im.format == "JPEG":
                return data
            im.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale
            im = im.convert("RGB")
            im.thumbnail((max_side, max_side))
            out = io.BytesIO()
            im.save(out, format="JPEG", quality=82)
            return out.getvalue()
    except Exception:  # noqa: BLE001 (PIL raises many types for corrupt data)
        return None


def data_uri(data: bytes) -> str:
    """``data:image/...;base64,...`` for bytes whose type :func:`sniff` proves (else ValueError)."""
    kind = sniff(data)
    if kind is None:
        raise ValueError("not a JPEG, PNG or WebP image")
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"
