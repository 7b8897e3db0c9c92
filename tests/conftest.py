"""Shared test setup: offline, CPU, and small real images."""

import io
import os

for _k, _v in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "WANDB_MODE": "disabled",
    "NO_ALBUMENTATIONS_UPDATE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_k, _v)

import pytest  # noqa: E402


def jpeg_bytes(width: int = 64, height: int = 48, seed: int = 0, quality: int = 85) -> bytes:
    """A real JPEG cut from a photo scikit-image ships (falls back to a gradient)."""
    from PIL import Image

    try:
        from skimage import data

        photo = Image.fromarray(data.astronaut() if seed % 2 == 0 else data.coffee())
        left = (seed * 37) % max(1, photo.width - width)
        img = photo.crop((left, 0, left + max(width, 8), max(height, 8))).resize((width, height))
    except ImportError:  # pragma: no cover - scikit-image is a test extra
        img = Image.linear_gradient("L").convert("RGB").resize((width, height))
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture
def jpeg():
    return jpeg_bytes
