"""What a shapes caption says: its count, colour and shape, and how often a model gets each right.

CIDEr rewards a caption that gets the colour right and the shape and count wrong ("a yellow
circle" for "three yellow squares") with most of its n-grams, so the learns-to-see measurements
also read the three attributes out of every caption and count them separately. Both the project's
generator (``train.eval.synthetic``) and ``bench/independent_shapes.py`` write captions these
rules read: a count word (``a``/``one``/``single``/``two``/``three`` or a digit), a colour word and
a shape noun. A caption that names none of a kind scores wrong for that attribute.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable

from train.eval.synthetic import COLOURS, SHAPES  # the words both generators use

_COUNTS = {"one": 1, "single": 1, "1": 1, "two": 2, "2": 2, "three": 3, "3": 3}
ATTRIBUTES = ("colour", "shape", "count")


def read_scene(caption: str) -> dict:
    """``{"count", "colour", "shape"}`` a caption states (None where it states none); the first
    word of each kind counts. A count comes from a count word, else from an ``a``/``an`` right
    before the colour or shape word, else from the shape noun's number."""
    words = re.findall(r"[a-z0-9]+", caption.lower())
    colour = next((w for w in words if w in COLOURS), None)
    shape_at = next((i for i, w in enumerate(words) if w.rstrip("s") in SHAPES), None)
    shape = None if shape_at is None else words[shape_at].rstrip("s")
    count = next((_COUNTS[w] for w in words if w in _COUNTS), None)
    if count is None and shape_at is not None:
        before = words[max(0, shape_at - 2):shape_at]
        count = 1 if ("a" in before or "an" in before or not words[shape_at].endswith("s")) else None
    return {"count": count, "colour": colour, "shape": shape}


def attribute_accuracy(rows: Iterable[dict]) -> dict:
    """Share of prediction rows (``{"prediction", "references"}``, as ``flamingo eval`` writes
    them) whose caption states each attribute as the first reference does, and how many rows."""
    right = dict.fromkeys(ATTRIBUTES, 0)
    n = 0
    for r in rows:
        truth, said = read_scene(r["references"][0]), read_scene(r["prediction"])
        n += 1
        for a in ATTRIBUTES:
            right[a] += truth[a] is not None and said[a] == truth[a]
    return {**{a: right[a] / max(1, n) for a in ATTRIBUTES}, "n": n}


def run_accuracy(eval_dir: str) -> dict:
    """Attribute accuracy over every prediction file an evaluation run wrote into ``eval_dir``."""
    folder = os.path.join(eval_dir, "predictions")
    rows: list[dict] = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".jsonl"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                rows += [json.loads(line) for line in f if line.strip()]
    return attribute_accuracy(rows)
