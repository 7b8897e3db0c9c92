"""A small synthetic captioning benchmark whose captions are decided by the image.

Each image is a greyed, faded crop of a photo that scikit-image ships (offline, no downloads)
with 1-3 objects of one kind composed onto it: a shape (circle, square, triangle) in a colour (red,
green, blue, yellow). The caption says how many, which colour and which shape ("two red
circles"), in five phrasings, so that a model can only score well by looking at the image:
the background photo carries no information about the caption.

Written in the Karpathy-split format COCO and Flickr30k evaluations read
(``dataset_coco.json``: ``{"images": [{"filename", "filepath", "split", "sentences": [{"raw",
"tokens"}], ...}]}``) plus an image folder, with a ``train`` and a ``test`` split drawn from
separate random streams. ``write_document_shards`` turns the train split into interleaved
documents that read like few-shot prompts, for the trainer. Everything is a pure function of
the config: the same config gives the same bytes.
"""

from __future__ import annotations

import functools
import io
import json
import os
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

from flamingo.typedconfig import config, opt, require

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 230), "yellow": (240, 220, 20)}
SHAPES = ("circle", "square", "triangle")
COUNT_WORDS = {1: "one", 2: "two", 3: "three"}
# colour photos that scikit-image bundles inside its wheel (checked offline)
BACKGROUNDS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
               "retina", "colorwheel")
ANNOTATION_FILE = "dataset_coco.json"
IMAGE_DIR = "images"


@config
class SyntheticConfig:
    train: int = opt(2000, "images in the train split (demonstrations and training pairs)", min=1)
    test: int = opt(200, "images in the held-out test split", min=1)
    image_size: int = opt(224, "side of the square images, pixels", min=32, max=1024)
    seed: int = opt(0, "seed of both splits' random streams", min=0)
    quality: int = opt(90, "JPEG quality", min=50, max=100)
    min_side: int = opt(24, "smallest object side, percent of the image side", min=5, max=40)
    max_side: int = opt(34, "largest object side, percent of the image side", min=5, max=40)

    def validate(self) -> None:
        require(self.min_side <= self.max_side, "min_side", "min_side must not exceed max_side")


@dataclass(frozen=True)
class Scene:
    """What an image shows: ``count`` objects of one ``shape`` in one ``colour``."""

    count: int
    colour: str
    shape: str


def captions(scene: Scene) -> list[str]:
    """The five reference captions of a scene (lower case, no final full stop)."""
    n, c, s = scene.count, scene.colour, scene.shape
    noun = s if n == 1 else s + "s"
    few = "a" if n == 1 else COUNT_WORDS[n]
    be = "is" if n == 1 else "are"
    return [
        f"{few} {c} {noun}",
        f"a photo with {few} {c} {noun}",
        f"{few} {c} {noun} on a photo",
        f"there {be} {few} {c} {noun} in the picture",
        f"{COUNT_WORDS[n]} {noun} in {c} drawn on a photo",
    ]


@functools.lru_cache(maxsize=None)
def _background(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def _crop(rng: random.Random, size: int) -> Image.Image:
    photo = _background(rng.choice(BACKGROUNDS))
    side = rng.randint(min(photo.size) // 2, min(photo.size))
    left, top = rng.randint(0, photo.width - side), rng.randint(0, photo.height - side)
    crop = photo.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BILINEAR)
    # a grey, slightly faded photo: the objects carry the only strong colour in the picture
    grey = crop.convert("L").point(lambda v: 40 + v * 3 // 5)
    return Image.merge("RGB", (grey, grey, grey))


def _boxes(rng: random.Random, count: int, size: int, sides: tuple[int, int]) -> list[tuple[int, int, int]]:
    """``count`` non-overlapping squares (x, y, side) inside the image, by rejection sampling;
    ``sides``: the range of the side, in percent of ``size``."""
    for _ in range(1000):
        boxes: list[tuple[int, int, int]] = []
        for _ in range(count):
            side = rng.randint(size * sides[0] // 100, size * sides[1] // 100)
            x, y = rng.randint(2, size - side - 2), rng.randint(2, size - side - 2)
            if all(x + side + 4 < bx or bx + bs + 4 < x or y + side + 4 < by or by + bs + 4 < y
                   for bx, by, bs in boxes):
                boxes.append((x, y, side))
        if len(boxes) == count:
            return boxes
    raise RuntimeError("could not place the objects")  # pragma: no cover - sizes leave room


def _draw(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int], fill: tuple[int, int, int]) -> None:
    x, y, s = box
    if shape == "circle":
        draw.ellipse((x, y, x + s, y + s), fill=fill, outline=(0, 0, 0), width=2)
    elif shape == "square":
        draw.rectangle((x, y, x + s, y + s), fill=fill, outline=(0, 0, 0), width=2)
    else:
        draw.polygon([(x + s / 2, y), (x + s, y + s), (x, y + s)], fill=fill, outline=(0, 0, 0), width=2)


def render(scene: Scene, rng: random.Random, size: int, sides: tuple[int, int] = (24, 34)) -> Image.Image:
    """A background crop with the scene's objects drawn on it (colours jittered a little)."""
    img = _crop(rng, size)
    draw = ImageDraw.Draw(img)
    for box in _boxes(rng, scene.count, size, sides):
        fill = tuple(min(255, max(0, v + rng.randint(-20, 20))) for v in COLOURS[scene.colour])
        _draw(draw, scene.shape, box, fill)
    return img


def draw_scene(rng: random.Random) -> Scene:
    return Scene(rng.choice(sorted(COUNT_WORDS)), rng.choice(sorted(COLOURS)), rng.choice(SHAPES))


def jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def generate(cfg: SyntheticConfig) -> list[dict]:
    """Karpathy-style image entries with their JPEG bytes under ``"data"`` (not written to JSON)."""
    entries = []
    for split, n in (("train", cfg.train), ("test", cfg.test)):
        rng = random.Random(f"{cfg.seed}/{split}")  # str seeds hash with sha512: stable across runs
        for i in range(n):
            scene = draw_scene(rng)
            data = jpeg(render(scene, rng, cfg.image_size, (cfg.min_side, cfg.max_side)), cfg.quality)
            name = f"{split}_{i:06d}.jpg"
            entries.append({
                "filename": name, "filepath": IMAGE_DIR, "split": split, "imgid": len(entries),
                "cocoid": len(entries),
                "sentences": [{"raw": c, "tokens": c.split()} for c in captions(scene)],
                "scene": {"count": scene.count, "colour": scene.colour, "shape": scene.shape},
                "data": data,
            })
    return entries


def write_benchmark(out_dir: str, cfg: SyntheticConfig) -> str:
    """Write ``out_dir/dataset_coco.json`` and ``out_dir/images/``; return the JSON's path."""
    os.makedirs(os.path.join(out_dir, IMAGE_DIR), exist_ok=True)
    entries = generate(cfg)
    for e in entries:
        with open(os.path.join(out_dir, IMAGE_DIR, e["filename"]), "wb") as f:
            f.write(e.pop("data"))
    path = os.path.join(out_dir, ANNOTATION_FILE)
    with open(path, "w") as f:
        json.dump({"dataset": "synthetic-shapes", "images": entries}, f, indent=1)
    return path


def write_document_shards(out_dir: str, annotation_file: str, *, split: str = "train", images_per_doc: int = 4,
                          repeats: int = 5, template: str = "Output:{caption}", per_shard: int = 500,
                          phrasing: int | None = None, seed: int = 0) -> list[str]:
    """The ``split`` as interleaved documents of ``images_per_doc`` images, each followed by its
    caption written with ``template`` (by default the evaluation's captioning template, so the
    documents read like few-shot prompts). Each document keeps one phrasing for all its captions
    (``phrasing``, an index into each image's captions, or a seeded pick among the five when None),
    so what follows the first image can be learnt in context; the images are reshuffled ``repeats``
    times, so each appears in that many documents."""
    from pipeline.shards import format as sf
    from pipeline.shards.writer import write_shard

    with open(annotation_file) as f:
        entries = [e for e in json.load(f)["images"] if e["split"] == split]
    root = os.path.dirname(os.path.abspath(annotation_file))
    rng = random.Random(f"documents/{seed}")
    docs = []
    for r in range(repeats):
        order = list(range(len(entries)))
        rng.shuffle(order)
        for d in range(0, len(order) - images_per_doc + 1, images_per_doc):
            chosen = [entries[i] for i in order[d:d + images_per_doc]]
            style = rng.randrange(min(len(e["sentences"]) for e in chosen)) if phrasing is None else phrasing
            segments: list = []
            images = []
            for k, e in enumerate(chosen):
                with open(os.path.join(root, e.get("filepath", ""), e["filename"]), "rb") as f:
                    data = f.read()
                with Image.open(io.BytesIO(data)) as im:
                    width, height = im.size
                images.append(sf.ImageRef(url=e["filename"], sha256=sf.sha256_hex(data), width=width, height=height,
                                          data=data))
                segments += [sf.ImageSlot(k), sf.TextSegment(template.format(caption=e["sentences"][style]["raw"]))]
            key = sf.make_key(split, r, d)
            docs.append(sf.InterleavedSample(key=key, url=f"synthetic:{split}/{r}/{d}", doc_id=key, seq_index=0,
                                             num_tokens=0, tokenizer="", segments=segments, images=images))
    return _write(out_dir, split, docs, per_shard, write_shard)


def _write(out_dir: str, split: str, samples: list, per_shard: int, write_shard) -> list[str]:
    paths = []
    for i in range(0, len(samples), per_shard):
        name = f"{split}-{i // per_shard:05d}"
        write_shard(out_dir, name, samples[i:i + per_shard])
        paths.append(os.path.join(out_dir, name + ".tar"))
    return paths
