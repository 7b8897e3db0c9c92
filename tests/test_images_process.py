"""Decoding, filtering, resizing and hashing real photos (scikit-image samples)."""

from __future__ import annotations

import hashlib
import io
import zlib

import numpy as np
import pytest
from images_support import many_frame_gif, photo, png_claiming
from PIL import Image

from pipeline.images import ImageConfig, phash_distance, process_image
from pipeline.images.body import BodyError, CappedDecoder, opt_out_directive, sniff_format


def _open(result):
    return Image.open(io.BytesIO(result.data))


@pytest.mark.parametrize(
    "mode,size,expected",
    [
        ("keep_ratio", (600, 400), (256, 171)),
        ("keep_ratio", (400, 600), (171, 256)),
        ("keep_ratio", (200, 180), (200, 180)),  # never upscaled
        ("center_crop", (600, 400), (256, 256)),
        ("no", (600, 400), (600, 400)),
    ],
)
def test_resize_modes(mode, size, expected):
    result = process_image(photo("coffee", size), ImageConfig(resize_mode=mode, image_size=256))
    assert result.status == "ok", result.error
    assert (result.width, result.height) == expected == _open(result).size
    assert (result.original_width, result.original_height) == size
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()


def test_exif_orientation_applied_then_stripped():
    image = Image.open(io.BytesIO(photo("rocket", (400, 300))))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90: stored 400x300, shown 300x400
    exif[0x8825] = {2: (1.0, 2.0, 3.0)}  # a GPS block that must not survive
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    result = process_image(out.getvalue(), ImageConfig(resize_mode="no"))
    assert (result.original_width, result.original_height) == (300, 400)
    stored = _open(result)
    assert stored.size == (300, 400)
    assert not stored.getexif() and "exif" not in stored.info


def test_transparent_png_becomes_rgb_on_white():
    image = Image.new("RGBA", (200, 200), (255, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    result = process_image(out.getvalue(), ImageConfig())
    stored = _open(result).convert("RGB")
    assert (
        stored.mode == "RGB"
        and stored.getpixel((100, 100))[0] > 240
        and stored.getpixel((100, 100))[1] > 240
    )


@pytest.mark.parametrize(
    "data,reason",
    [
        (photo("astronaut", (120, 90)), "too_small"),
        (photo("astronaut", (800, 160)), "bad_aspect_ratio"),
        (png_claiming(50000, 50000), "decompression_bomb"),
        (png_claiming(8000, 8000), "decompression_bomb"),  # under Pillow's limit, over ours
        (photo()[: len(photo()) // 2], "truncated"),
        (photo("astronaut", (300, 300), "PNG")[:5000], "truncated"),
        (b"<html>hello</html>", "not_an_image"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n", "not_an_image"),  # EPS is never handed to a decoder
        (b"SIMPLE  =                    T" + b" " * 50, "not_an_image"),  # FITS
    ],
)
def test_refusals(data, reason):
    result = process_image(data, ImageConfig(max_pixels=40_000_000))
    assert result.status == reason, result.error
    assert result.data is None


def test_too_many_original_bytes():
    assert process_image(photo(), ImageConfig(max_original_bytes=1000)).status == "too_large"


def test_gif_first_frame_only():
    result = process_image(many_frame_gif(), ImageConfig())
    assert result.status == "ok" and (result.width, result.height) == (160, 160)


def test_jpeg_draft_decode_matches_full_decode():
    big = photo("hubble_deep_field", (1600, 1200), quality=92)
    fast = _open(process_image(big, ImageConfig(image_size=200))).convert("L")
    reference = Image.open(io.BytesIO(big)).convert("L").resize(fast.size, Image.Resampling.LANCZOS)
    diff = np.abs(np.asarray(fast, dtype=float) - np.asarray(reference, dtype=float)).mean()
    assert diff < 6  # mean absolute difference on 0..255


def test_phash_near_duplicates_close_distinct_far():
    config = ImageConfig(resize_mode="no")
    a = process_image(photo("chelsea", (400, 300), quality=90), config).phash
    a_small = process_image(photo("chelsea", (300, 225), quality=40), config).phash
    b = process_image(photo("rocket", (400, 300)), config).phash
    assert phash_distance(a, a) == 0
    assert phash_distance(a, a_small) <= 8
    assert phash_distance(a, b) >= 20


@pytest.mark.parametrize(
    "values,expected",
    [
        (["noai"], "noai"),
        (["noindex, NoImageAI"], "noimageai"),
        (["flamingokitbot: noai"], "noai"),
        (["otherbot: noai"], None),
        (["noindex"], None),
        (["unavailable_after: 25 Jun 2010 15:00:00 PST"], None),
        ([], None),
    ],
)
def test_x_robots_tag(values, expected):
    assert opt_out_directive(values, "flamingokitbot", frozenset({"noai", "noimageai"})) == expected


def test_capped_decoder_cuts_a_bomb_and_passes_normal_bodies():
    data = photo()
    assert CappedDecoder("gzip", len(data), 2).feed(zlib.compress(data)) == data
    bomb = zlib.compress(b"\0" * (10 << 20))
    with pytest.raises(BodyError) as err:
        CappedDecoder("deflate", 1 << 20, 2).feed(bomb)
    assert err.value.reason == "too_large"
    for bad in ("br", "gzip, gzip, gzip"):
        with pytest.raises(BodyError) as err:
            CappedDecoder(bad, 1 << 20, 2)
        assert err.value.reason == "bad_content_encoding"


def test_sniff_format():
    assert sniff_format(photo()[:12]) == "JPEG"
    assert sniff_format(photo(fmt="PNG")[:12]) == "PNG"
    assert sniff_format(photo(fmt="WEBP")[:12]) == "WEBP"
    assert sniff_format(b"BM" + b"\0" * 10) is None


def test_images_package_imports_neither_beam_nor_torch():
    import subprocess
    import sys

    code = "import sys, pipeline.images; print(any(m.split('.')[0] in ('apache_beam', 'torch', 'cv2') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_matches_pillow_exif_transpose(orientation):
    from PIL import ImageOps

    from pipeline.images.pixels import orient

    pixels = np.random.default_rng(orientation).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    image.getexif()[0x0112] = orientation
    assert np.array_equal(orient(pixels, orientation), np.asarray(ImageOps.exif_transpose(image)))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_rotated_photo_stored_upright_at_target_size(orientation):
    """A 600x400 photo stored sideways with an EXIF rotation: resized, turned upright, EXIF gone."""
    upright = Image.open(io.BytesIO(photo("rocket", (600, 400)))).convert("RGB")
    stored = upright.transpose({3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
                                8: Image.Transpose.ROTATE_270}[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    stored.save(out, format="JPEG", quality=95, exif=exif)
    result = process_image(out.getvalue(), ImageConfig(image_size=256))
    assert (result.original_width, result.original_height) == (600, 400)
    assert (result.width, result.height) == (256, 171)
    got = _open(result)
    assert not got.getexif()
    reference = np.asarray(upright.resize((256, 171), Image.Resampling.LANCZOS), dtype=float)
    assert np.abs(np.asarray(got, dtype=float) - reference).mean() < 6


@pytest.mark.parametrize("fmt,size", [("PNG", (1600, 1200)), ("JPEG", (300, 225)), ("PNG", (180, 160))])
def test_resize_close_to_lanczos_at_any_factor(fmt, size):
    """Large PNGs (no DCT scaling: area averaging), small JPEGs (bilinear), upscaling (bicubic)."""
    data = photo("hubble_deep_field", size, fmt=fmt)
    config = ImageConfig(image_size=200, resize_only_if_bigger=False, min_side=100)
    got = _open(process_image(data, config)).convert("L")
    reference = Image.open(io.BytesIO(data)).convert("L").resize(got.size, Image.Resampling.LANCZOS)
    assert np.abs(np.asarray(got, dtype=float) - np.asarray(reference, dtype=float)).mean() < 6


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _with_metadata(jpeg: bytes) -> bytes:
    """Every kind of metadata a web JPEG carries: EXIF with GPS, XMP, ICC, IPTC, a comment, a
    JFIF thumbnail header, and bytes after the end-of-image marker."""
    image = Image.open(io.BytesIO(jpeg))
    exif = image.getexif()
    exif[0x010F] = "CameraMaker"
    exif[0x8825] = {2: (48.0, 51.0, 24.0), 4: (2.0, 21.0, 7.0)}  # GPS latitude, longitude
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92, exif=exif, icc_profile=b"ICC-PROFILE-BYTES" * 20,
               comment=b"secret comment")
    data = out.getvalue()
    extra = (
        _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>GPSLatitude 48</x:xmpmeta>")
        + _segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04IPTC-BYLINE")
        + _segment(0xE0, b"JFXX\x00\x10" + b"THUMB" * 10)
    )
    return data[:2] + extra + data[2:] + b"TRAILING-PAYLOAD"


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_that_fits_is_stored_without_reencoding_and_without_metadata(progressive):
    plain = io.BytesIO()
    Image.open(io.BytesIO(photo("chelsea", (200, 180), quality=95))).save(
        plain, format="JPEG", quality=95, progressive=progressive
    )
    data = _with_metadata(plain.getvalue())
    result = process_image(data, ImageConfig(image_size=256))
    assert result.status == "ok", result.error
    assert (result.width, result.height) == (200, 180)
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()
    for secret in (b"Exif\x00\x00", b"CameraMaker", b"ICC-PROFILE", b"xmpmeta", b"GPSLatitude", b"Photoshop",
                   b"IPTC", b"secret comment", b"THUMB", b"TRAILING"):
        assert secret not in result.data, secret
    stored = _open(result)
    assert not stored.getexif()
    assert not {"exif", "icc_profile", "comment", "xmp", "photoshop"} & set(stored.info)
    # the same coded image: pixel for pixel what the original decodes to, no generation lost
    assert np.array_equal(np.asarray(stored), np.asarray(Image.open(io.BytesIO(data))))


def test_reencoded_instead_when_pixels_must_change():
    big = photo("coffee", (600, 400))
    cmyk = io.BytesIO()
    Image.open(io.BytesIO(photo("coffee", (200, 180)))).convert("CMYK").save(cmyk, format="JPEG")
    square = ImageConfig(resize_mode="center_crop", image_size=256)
    for data, config in ((big, ImageConfig()), (cmyk.getvalue(), ImageConfig()), (photo("coffee", (200, 180)), square)):
        result = process_image(data, config)
        assert result.status == "ok" and _open(result).mode == "RGB" and result.data != data
    assert (process_image(photo("coffee", (200, 180)), square).width, ) == (180, )


def test_jpeg_stripper_declines_what_it_does_not_know():
    from pipeline.images.jpegstrip import stripped_jpeg

    data = photo("coffee", (200, 180))
    assert stripped_jpeg(data) is not None
    sof0 = data.index(b"\xff\xc0")
    assert stripped_jpeg(data[:sof0] + b"\xff\xc9" + data[sof0 + 2 :]) is None  # arithmetic coding
    assert stripped_jpeg(data[: len(data) // 2]) is None  # no end of image
    assert stripped_jpeg(b"\x89PNG\r\n\x1a\n") is None
    assert process_image(data[: len(data) // 2], ImageConfig()).status == "truncated"
