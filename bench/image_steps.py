"""Per-photo CPU of each step of the image stage, on bench/images.py's photos.

Thread CPU (``time.thread_time``), best of ``--repeats`` passes over the same photos, one thread:
the steps' own cost, without the fetch threads' contention that bench/images.py includes.
Alternatives that were measured and not kept are timed beside the kept ones.

    python bench/image_steps.py --n 300
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def per_item_ms(fn, items: list, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        for item in items:
            fn(item)
        best = min(best, time.thread_time() - start)
    return 1000 * best / len(items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        import simplejpeg
        from images import make_photos
    except ImportError as err:
        print(f"skipped: {err}")
        return 0
    from pipeline.images import ImageConfig, jpegcodec, process_image
    from pipeline.images import pixels as px
    from pipeline.images.jpegcodec import _scale
    from pipeline.images.phash import phash
    from pipeline.images.process import _target_size

    photos = make_photos(args.n)
    config = ImageConfig(image_size=256, jpeg_quality=90)
    sizes = [Image.open(io.BytesIO(data)).size for data in photos]
    jobs = [(data, size, _target_size(size, config)) for data, size in zip(photos, sizes)]

    def pillow_draft(job):
        image = Image.open(io.BytesIO(job[0]))
        image.draft("RGB", job[2])
        image.load()
        return np.asarray(image)

    def turbo_m8(job):  # TurboJPEG's own choice among its M/8 scales
        return simplejpeg.decode_jpeg(job[0], colorspace="RGB", min_width=job[2][0], min_height=job[2][1])

    def turbo_fast(job):  # the kept scale, fast integer DCT and no fancy upsampling
        scale = _scale(job[1], job[2])
        return simplejpeg.decode_jpeg(
            job[0],
            colorspace="RGB",
            fastdct=True,
            fastupsample=True,
            min_width=-(-job[1][0] // scale),
            min_height=-(-job[1][1] // scale),
        )

    decoded = [(jpegcodec.decode(*job), job[2]) for job in jobs]
    stored = [np.ascontiguousarray(px.resize(*pair)) for pair in decoded]

    def pillow_encode(pixels):
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, format="JPEG", quality=90)
        return out.getvalue()

    rows = {
        "decode, Pillow draft (before)": (pillow_draft, jobs),
        "decode, jpegcodec (TurboJPEG, Pillow's 1/2^k scale, accurate DCT)": (lambda j: jpegcodec.decode(*j), jobs),
        "decode, TurboJPEG same scale, fastdct + fastupsample (not kept)": (turbo_fast, jobs),
        "decode, TurboJPEG M/8 scales (not kept)": (turbo_m8, jobs),
        "resize to 256 (OpenCV)": (lambda pair: px.resize(*pair), decoded),
        "encode q90, Pillow (before)": (pillow_encode, stored),
        "encode q90, jpegcodec (TurboJPEG)": (lambda p: jpegcodec.encode(p, 90), stored),
        "pHash": (phash, stored),
        "process_image, whole": (lambda data: process_image(data, config), photos),
    }
    for name, (fn, items) in rows.items():
        print(f"{per_item_ms(fn, items, args.repeats):6.3f} ms/photo  {name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
