"""Benchmark-format fixtures for the evaluation tests, written in each benchmark's own layout.

Images are small solid-colour JPEGs with a pattern, one colour per "concept", so tests can build
cases where the right answer depends on the image (and RICES has true nearest neighbours).
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 230), "yellow": (240, 220, 20)}


def image(path: Path, colour: str, variant: int = 0, size: int = 32) -> Path:
    """A JPEG of ``colour`` with a small dark mark whose place depends on ``variant``."""
    img = Image.new("RGB", (size, size), COLOURS[colour])
    x = (variant * 7) % (size - 6)
    ImageDraw.Draw(img).rectangle((x, x // 2, x + 5, x // 2 + 5), fill=(10, 10, 10))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="JPEG", quality=90)
    return path


def karpathy(root: Path, n_train: int = 8, n_test: int = 4, filepath: str | None = "val2014") -> Path:
    """``root/dataset_coco.json`` in the Karpathy split format, images under ``root/<filepath>/``."""
    entries, colours = [], list(COLOURS)
    for split, n in (("train", n_train), ("test", n_test)):
        for i in range(n):
            c = colours[i % len(colours)]
            name = f"{split}_{i}.jpg"
            image(root / (filepath or "") / name, c, i)
            e = {"filename": name, "split": split, "cocoid": len(entries),
                 "sentences": [{"raw": f"A {c} square."}, {"raw": f"a {c} picture"}, {"raw": f"something {c}"}]}
            if filepath:
                e["filepath"] = filepath
            entries.append(e)
    path = root / "dataset_coco.json"
    path.write_text(json.dumps({"images": entries, "dataset": "coco"}))
    return path


def coco_captions(root: Path, split: str, n: int) -> Path:
    """``root/captions_<split>.json`` in the plain COCO captions format, images in ``root/<split>/``."""
    images, anns, colours = [], [], list(COLOURS)
    for i in range(n):
        c = colours[i % len(colours)]
        image(root / split / f"{i:012d}.jpg", c, i)
        images.append({"id": 1000 + i, "file_name": f"{split}/{i:012d}.jpg"})
        anns += [{"image_id": 1000 + i, "id": 2 * i + k, "caption": f"a {c} square {k}"} for k in range(2)]
    path = root / f"captions_{split}.json"
    path.write_text(json.dumps({"images": images, "annotations": anns}))
    return path


def vqa(root: Path, split: str, n: int, coco_names: bool = True) -> tuple[Path, Path, Path]:
    """VQA v2-style questions and annotations JSON and an image folder (COCO file names, or
    TextVQA-style string ids)."""
    qs, anns, colours = [], [], list(COLOURS)
    img_dir = root / f"{split}2014"
    for i in range(n):
        c = colours[i % len(colours)]
        image_id = 100 + i if coco_names else f"img{i}"
        fname = f"COCO_{split}2014_{100 + i:012d}.jpg" if coco_names else f"img{i}.jpg"
        image(img_dir / fname, c, i)
        qs.append({"question_id": 10 * i, "image_id": image_id, "question": "What colour is it?"})
        anns.append({"question_id": 10 * i, "image_id": image_id, "question_type": "what color",
                     "answer_type": "other",
                     "answers": [{"answer": c, "answer_id": k + 1, "answer_confidence": "yes"} for k in range(10)]})
    q, a = root / f"{split}_questions.json", root / f"{split}_annotations.json"
    q.write_text(json.dumps({"questions": qs}))
    a.write_text(json.dumps({"annotations": anns}))
    return q, a, img_dir


def class_folders(root: Path, split: str, per_class: int = 2) -> Path:
    """``root/<split>/<wnid>/*.JPEG`` and ``root/classnames.txt`` (``wnid name`` lines)."""
    names = {f"n{i:08d}": f"{c} thing" for i, c in enumerate(COLOURS)}
    for i, (wnid, name) in enumerate(names.items()):
        for k in range(per_class):
            image(root / split / wnid / f"{k}.JPEG", name.split()[0], k)
    (root / "classnames.txt").write_text("".join(f"{w} {n}\n" for w, n in names.items()))
    return root / split


def hateful_memes(root: Path, split: str, n: int) -> Path:
    lines = []
    for i in range(n):
        c = list(COLOURS)[i % len(COLOURS)]
        image(root / "img" / f"{split}{i:05d}.jpg", c, i)
        lines.append(json.dumps({"id": f"{split}{i}", "img": f"img/{split}{i:05d}.jpg", "label": i % 2,
                                 "text": f"words {c}"}))
    path = root / f"{split}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def save_tiny_with_open_gates(path: Path) -> Path:
    """Save a tiny Flamingo whose tanh gates are open (1.0), so its images change what it writes."""
    import torch

    from flamingo.config import PRESETS
    from flamingo.factory import build_flamingo

    model, _, _ = build_flamingo(PRESETS.get("tiny"))
    with torch.no_grad():
        for layer in model.flamingo_layers:
            if layer.xattn is not None:
                layer.xattn.attn_gate.fill_(1.0)
                layer.xattn.ff_gate.fill_(1.0)
    model.save_pretrained(path)
    return path
