"""libjpeg-turbo decoding and encoding (``jpegcodec``): same pixels as Pillow, same refusals."""

from __future__ import annotations

import io

import numpy as np
import pytest
from images_support import photo
from PIL import Image

from pipeline.images import ImageConfig, jpegcodec, process_image


def _pillow_draft(data: bytes, at_least: tuple[int, int]) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", at_least)
    return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize("at_least", [(256, 171), (100, 70), (40, 30), (1200, 800)])
def test_decode_scales_as_pillow_draft_with_the_same_pixels(at_least):
    data = photo("hubble_deep_field", (1200, 800), quality=90)
    got = jpegcodec.decode(data, (1200, 800), at_least)
    assert got.shape[1] >= at_least[0] and got.shape[0] >= at_least[1]
    assert np.array_equal(got, _pillow_draft(data, at_least))


def test_grey_jpeg_decodes_to_rgb_as_pillow_does():
    out = io.BytesIO()
    Image.open(io.BytesIO(photo("coffee", (300, 200)))).convert("L").save(out, format="JPEG")
    got = jpegcodec.decode(out.getvalue(), (300, 200), None)
    assert np.array_equal(got, np.asarray(Image.open(out).convert("RGB")))


@pytest.mark.parametrize("keep", [0.5, 0.9, -2])  # half the scan, most of it, all but the end marker
def test_truncated_jpeg_refused_at_any_scale(keep):
    data = photo("chelsea", (600, 400), quality=90)
    cut = data[:keep] if isinstance(keep, int) else data[: int(len(data) * keep)]
    with pytest.raises(jpegcodec.Truncated):
        jpegcodec.decode(cut, (600, 400), (256, 171))
    for config in (ImageConfig(), ImageConfig(resize_mode="no")):
        assert process_image(cut, config).status == "truncated"


def test_files_libjpeg_only_warns_about_are_left_to_pillow():
    """Garbage before the end marker: TurboJPEG (strict) calls it corrupt, Pillow decodes it, as
    before this decoder was added; so it is handed back, not refused."""
    data = photo("coffee", (600, 400))
    corrupt = data[:-2] + b"\x00" * 40 + data[-2:]
    assert jpegcodec.decode(corrupt, (600, 400), (256, 171)) is None
    result = process_image(corrupt, ImageConfig())
    assert result.status == "ok" and (result.width, result.height) == (256, 171)


def test_cmyk_and_disagreeing_sizes_are_left_to_pillow():
    cmyk = io.BytesIO()
    Image.open(io.BytesIO(photo("coffee", (300, 200)))).convert("CMYK").save(cmyk, format="JPEG")
    assert jpegcodec.decode(cmyk.getvalue(), (300, 200), None) is None
    assert jpegcodec.decode(photo("coffee", (300, 200)), (301, 200), None) is None


def test_jpeg_bomb_refused_from_the_header_before_any_decoder_runs(monkeypatch):
    data = bytearray(photo("coffee", (300, 200)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (7000).to_bytes(2, "big") + (7000).to_bytes(2, "big")  # height, width

    def never(*args, **kwargs):
        raise AssertionError("decoded a bomb")

    monkeypatch.setattr(jpegcodec.simplejpeg, "decode_jpeg", never)
    result = process_image(bytes(data), ImageConfig(max_pixels=40_000_000))
    assert result.status == "decompression_bomb", result.error


def test_encoded_jpeg_carries_no_metadata():
    pixels = np.asarray(Image.open(io.BytesIO(photo("rocket", (256, 171)))))
    encoded = jpegcodec.encode(pixels[:, ::-1], 90)  # a mirrored view: not contiguous
    jfif, quant, frame, huffman, scan = 0xE0, 0xDB, 0xC0, 0xC4, 0xDA
    assert _markers_before_scan(encoded) == [jfif, quant, quant, frame, *[huffman] * 4, scan]
    stored = Image.open(io.BytesIO(encoded))
    assert stored.size == (256, 171) and stored.mode == "RGB"


def _markers_before_scan(data: bytes) -> list[int]:
    """Markers of the segments from the start of image to the first scan."""
    markers, pos = [], 2
    while data[pos] == 0xFF and data[pos + 1] != 0xDA:
        markers.append(data[pos + 1])
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return [*markers, data[pos + 1]]
