"""Small interleaved shards, written by our shard writer, for the export and interop tests."""

from __future__ import annotations

from images_support import photo

from pipeline.shards import format as sf
from pipeline.shards.writer import write_shard

PHOTOS = [("astronaut", (320, 240)), ("coffee", (300, 200)), ("chelsea", (256, 256))]


def image(name: str, size: tuple[int, int]) -> sf.ImageRef:
    data = photo(name, size)
    return sf.ImageRef(url=f"http://img.example/{name}.jpg", sha256=sf.sha256_hex(data), width=size[0],
                       height=size[1], alt=f"a photo of {name}", data=data)


def sample(i: int, n_images: int, lead_text: bool = True) -> sf.InterleavedSample:
    """Text, then ``n_images`` times (image, the text after it)."""
    url = f"http://site.example/page-{i}"
    segments: list = [sf.TextSegment(f"Page {i} starts with some words. ")] if lead_text else []
    images = []
    for j in range(n_images):
        images.append(image(*PHOTOS[(i + j) % len(PHOTOS)]))
        segments += [sf.ImageSlot(j), sf.TextSegment(f"What picture {j} of page {i} shows, in a sentence. ")]
    return sf.InterleavedSample(key=sf.make_key(url, 0), url=url, doc_id=sf.make_key(url), seq_index=0,
                                num_tokens=40, tokenizer="test", segments=segments, images=images)


def write_shards(out_dir, n_shards: int = 2, per_shard: int = 3) -> list[sf.InterleavedSample]:
    """``corpus-0000k.tar`` shards of samples with 1, 2, 3 images (lead text on all but the first)."""
    samples = [sample(i, 1 + i % 3, lead_text=i > 0) for i in range(n_shards * per_shard)]
    for k in range(n_shards):
        write_shard(str(out_dir), f"corpus-{k:05d}", samples[k * per_shard:(k + 1) * per_shard])
    return samples
