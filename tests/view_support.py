"""Shards for the viewer and report tests: ordinary samples, a known 5-image sample, hostile
strings everywhere a page puts text, a pair shard, a video-like shard (frames + text, a kind
the format does not know yet) and an img2dataset-style shard without an index."""

from __future__ import annotations

import io
import json
import os
import tarfile

from conftest import jpeg_bytes

from pipeline.shards import format as sf
from pipeline.shards import writer

# What a hostile page may put in its title, alt texts and text. Each, if it ran, would open a
# dialog or set window.__pwned; the tests check that neither happens and the text is visible.
HOSTILE = [
    "<script>alert('title')</script>",
    '"><img src=x onerror="window.__pwned=1;alert(1)">',
    "<svg onload=alert(2)></svg>",
    "javascript:alert(3)",
    "\u202eevil\u202c gnp.exe \u2066isolate\u2069",
    "</bdi></span><iframe src=javascript:alert(4)></iframe>",
    "<a href=\"javascript:alert(5)\">click</a>",
]
FIVE_TEXTS = [f"Paragraph {i} after image {i} about herons and rivers." for i in range(5)]
FIVE_KEY = sf.make_key("https://birds.example/five", 0)
HOSTILE_KEY = sf.make_key("https://evil.example/", 0)
KNOWN_WORD = "quetzalcoatlus"  # in the text of one ordinary sample only


def _image(i: int, seed: int, alt: str = "", url: str = "") -> sf.ImageRef:
    data = jpeg_bytes(96 + 8 * i, 72, seed=seed)
    return sf.ImageRef(url or f"https://img.example/{seed}.jpg", sf.sha256_hex(data), 96 + 8 * i, 72, alt,
                       data=data)


def five_image_sample() -> sf.InterleavedSample:
    images = [_image(i, i, alt=f"heron photo {i}") for i in range(5)]
    segments: list = [sf.TextSegment("Herons: an introduction.\n")]
    for i in range(5):
        segments += [sf.ImageSlot(i), sf.TextSegment(FIVE_TEXTS[i])]
    return sf.InterleavedSample(FIVE_KEY, "https://birds.example/five", "doc-five", 0, 120, "test-tok",
                                segments, images)


def hostile_sample() -> sf.InterleavedSample:
    images = [_image(0, 7, alt=HOSTILE[1], url="javascript:alert('img')"),
              _image(1, 8, alt=HOSTILE[4], url="https://evil.example/\u202egpj.exe")]
    segments = [sf.TextSegment(" ".join(HOSTILE)), sf.ImageSlot(0), sf.TextSegment(HOSTILE[0] + HOSTILE[2]),
                sf.ImageSlot(1), sf.TextSegment(HOSTILE[5] + HOSTILE[6])]
    return sf.InterleavedSample(HOSTILE_KEY, "javascript:alert('source')//" + HOSTILE[4], HOSTILE[0], 0, 60,
                                HOSTILE[2], segments, images, extra={"title": HOSTILE[0]})


def ordinary(n: int, doc: str = "doc") -> list[sf.InterleavedSample]:
    out = []
    for i in range(n):
        url = f"https://news.example/{doc}/{i // 3}"
        words = f"Story {i} of the {doc} set." + (f" The {KNOWN_WORD} flew." if i == n - 2 else "")
        out.append(sf.InterleavedSample(sf.make_key(url, i % 3), url, f"{doc}-{i // 3}", i % 3, 40 + i, "test-tok",
                                        [sf.ImageSlot(0), sf.TextSegment(words)], [_image(0, 20 + i)]))
    return out


def write_interleaved(root: str, n_ordinary: int = 12) -> str:
    samples = sorted([five_image_sample(), hostile_sample(), *ordinary(n_ordinary)], key=lambda s: s.key)
    writer.write_shard(root, "corpus-00000", samples)
    return os.path.join(root, "corpus-00000.tar")


def write_pairs(root: str) -> str:
    samples = []
    for i, caption in enumerate(["a heron by a river", HOSTILE[1], "two pelicans"]):
        data = jpeg_bytes(80, 60, seed=30 + i)
        samples.append(sf.PairSample(f"{i:09d}", f"https://img.example/p{i}.jpg", caption, data, 80, 60,
                                     sf.sha256_hex(data), extra={"page_url": f"https://pairs.example/{i}"}))
    writer.write_shard(root, "00000", samples)
    return os.path.join(root, "00000.tar")


def _tar(path: str, members: list[tuple[str, bytes]]) -> str:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:  # pax: as webdataset writes
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_video(root: str, frames: int = 4) -> str:
    """A video clip: frames KEY.0.jpg… plus KEY.txt (the format's ``video`` kind)."""
    pics = [jpeg_bytes(64, 48, seed=40 + t) for t in range(frames)]
    clip = sf.VideoSample(key="video0001", url="https://video.example/v1", caption="A heron takes off from the water.",
                          frames=[sf.ImageRef("", sf.sha256_hex(p), 64, 48, data=p) for p in pics], fps=2.0)
    return _tar(os.path.join(root, "video-00000.tar"), sf.encode(clip))


def write_img2dataset_like(root: str, n: int = 3) -> str:
    """Pairs as img2dataset writes them: no parquet index of ours beside the tar."""
    members = []
    for i in range(n):
        key = f"{i:09d}"
        data = jpeg_bytes(64, 48, seed=50 + i)
        meta = {"url": f"https://img.example/i{i}.jpg", "caption": f"caption {i}", "key": key, "status": "success",
                "width": 64, "height": 48, "sha256": "not-of-the-stored-bytes"}
        members += [(f"{key}.jpg", data), (f"{key}.json", json.dumps(meta).encode()),
                    (f"{key}.txt", f"caption {i}".encode())]
    return _tar(os.path.join(root, "i2d-00000.tar"), members)
