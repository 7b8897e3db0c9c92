"""A held-out shapes set drawn by code that shares nothing with ``train.eval.synthetic``.

For checking that a model trained on the project's generator reads images it did not come from:
shapes are rasterised here with NumPy masks (not PIL's drawing), on backgrounds cut from other
scikit-image photos (grass, gravel, brick, camera, moon, coins, clock, page), with their own
colours, sizes, placement and five caption phrasings of their own. Written in the plain COCO
captions format (``captions_<split>.json`` + ``<split>/``, one file per split), the other format
``flamingo eval`` reads. Usage: python bench/independent_shapes.py OUT [--test 100] [--train 200]
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
from PIL import Image

COLOURS = {"red": (205, 20, 40), "green": (20, 160, 70), "blue": (40, 70, 210), "yellow": (230, 210, 40)}
SHAPES = ("circle", "square", "triangle")
NUMBERS = {1: "one", 2: "two", 3: "three"}
BACKGROUNDS = ("grass", "gravel", "brick", "camera", "moon", "coins", "clock", "page")


def _mask(shape: str, side: int) -> np.ndarray:
    yy, xx = np.mgrid[0:side, 0:side] + 0.5
    c = side / 2
    if shape == "circle":
        return (xx - c) ** 2 + (yy - c) ** 2 <= c * c
    if shape == "square":
        return np.ones((side, side), bool)
    return np.abs(xx - c) <= yy / 2  # apex at the top middle, base along the bottom


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    from skimage import data

    arr = getattr(data, BACKGROUNDS[rng.integers(len(BACKGROUNDS))])().astype(np.float64)
    if arr.ndim == 3:
        arr = arr[..., :3].mean(-1)
    h, w = arr.shape
    s = int(rng.integers(min(h, w) // 2, min(h, w) + 1))
    y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
    crop = np.asarray(Image.fromarray(arr[y:y + s, x:x + s].astype(np.uint8)).resize((size, size)), np.float64)
    return np.repeat((60 + crop * 0.5)[..., None], 3, axis=2)


def draw(rng: np.random.Generator, count: int, colour: str, shape: str, size: int = 224) -> Image.Image:
    img = _background(rng, size)
    taken = np.zeros((size, size), bool)
    placed = 0
    while placed < count:
        side = int(rng.integers(size // 5, size // 3))
        y, x = int(rng.integers(0, size - side)), int(rng.integers(0, size - side))
        if taken[max(0, y - 3):y + side + 3, max(0, x - 3):x + side + 3].any():
            continue
        m = _mask(shape, side)
        img[y:y + side, x:x + side][m] = COLOURS[colour]
        taken[y:y + side, x:x + side] = True
        placed += 1
    return Image.fromarray(img.clip(0, 255).astype(np.uint8))


def phrasings(count: int, colour: str, shape: str) -> list[str]:
    noun = shape + ("s" if count > 1 else "")
    word = NUMBERS[count]
    return [f"{'a' if count == 1 else word} {colour} {noun}", f"{count} {colour} {noun}",
            f"an image showing {word} {colour} {noun}", f"{word} {noun}, all {colour}",
            f"{colour} {noun}, {word} of them" if count > 1 else f"a single {colour} {shape}"]


def write_split(out: str, split: str, n: int, seed: int) -> str:
    rng = np.random.default_rng([seed, len(split)])
    os.makedirs(os.path.join(out, split), exist_ok=True)
    images, annotations = [], []
    for i in range(n):
        count, colour, shape = int(rng.integers(1, 4)), sorted(COLOURS)[rng.integers(4)], SHAPES[rng.integers(3)]
        name = f"{split}/{i:05d}.jpg"
        draw(rng, count, colour, shape).save(os.path.join(out, name), quality=88)
        images.append({"id": i, "file_name": name})
        annotations += [{"id": 5 * i + k, "image_id": i, "caption": c}
                        for k, c in enumerate(phrasings(count, colour, shape))]
    path = os.path.join(out, f"captions_{split}.json")
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": annotations}, f)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--test", type=int, default=100)
    p.add_argument("--train", type=int, default=200, help="the demonstration pool")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    print(write_split(a.out, "test", a.test, a.seed), write_split(a.out, "train", a.train, a.seed))


if __name__ == "__main__":
    main()
