"""`make demo`: the project's main path end to end on the embedded runner, offline.

For now it writes a small shard of interleaved samples from photos that scikit-image ships
and inspects it; it grows as the corpus, pairs and training jobs land.
"""

from __future__ import annotations

import io
import os
import sys

from pipeline import shardformat as sf
from pipeline import shardwriter as sw
from pipeline.cli import main as flamingo


def _demo_samples() -> list[sf.InterleavedSample]:
    from PIL import Image
    from skimage import data

    photos = {"astronaut": data.astronaut(), "coffee": data.coffee(), "chelsea": data.chelsea()}
    samples = []
    for i, (name, arr) in enumerate(photos.items()):
        buf = io.BytesIO()
        Image.fromarray(arr).convert("RGB").save(buf, format="JPEG", quality=90)
        img = Image.open(buf)
        ref = sf.ImageRef(f"https://example.org/{name}.jpg", sf.sha256_hex(buf.getvalue()),
                          img.width, img.height, f"a photo: {name}", data=buf.getvalue())
        segs = [sf.TextSegment(f"A page about {name}. "), sf.ImageSlot(0),
                sf.TextSegment(f"This photo shows {name}.")]
        samples.append(sf.InterleavedSample(
            key=sf.make_key("https://example.org/" + name, 0), url="https://example.org/" + name,
            doc_id=sf.make_key("https://example.org/" + name), seq_index=0, num_tokens=0,
            tokenizer="none", segments=segs, images=[ref]))
    return samples


def main(out_dir: str = "demo-out") -> int:
    shards = os.path.join(out_dir, "fixture-shards")
    sw.write_shard(shards, "demo-00000", _demo_samples())
    sw.write_job_manifest(shards)
    return flamingo(["inspect", shards, "--show", "3"])


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
