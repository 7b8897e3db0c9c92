"""Benchmarks read from their own file formats: examples for the queries and the demonstration pool.

A task has a *kind* (``captioning``, ``vqa``, ``classification``) that decides the prompt, the
decoding and the metric, and a reader for its files:

* captioning (``coco``, ``flickr30k``, ``captioning``): a Karpathy-split JSON
  (``{"images": [{"filename", "filepath"?, "split", "sentences": [{"raw"}]}]}``; queries are the
  ``--split`` entries, demonstrations the ``train`` and ``restval`` ones), or the plain COCO
  captions format (``{"images": [{"id", "file_name"}], "annotations": [{"image_id",
  "caption"}]}``), one file per split;
* VQA (``vqav2``, ``okvqa``, ``textvqa``, ``vizwiz``): the VQA questions JSON
  (``{"questions": [{"question_id", "image_id", "question"}]}``) and annotations JSON
  (``{"annotations": [{"question_id", "answers": [{"answer"}]}]}``); TextVQA and VizWiz in that
  format as OpenFlamingo converts them;
* classification (``imagenet``): a folder of class folders (``ROOT/<class>/<image>``) with a
  class-name file; ``hateful_memes``: its JSONL files (``{"id", "img", "label", "text"}``).

Readers return plain :class:`Example` lists; image paths are resolved and checked here, so a
wrong folder fails before any model is loaded, with a :class:`~flamingo.typedconfig.UsageError`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flamingo.typedconfig import UsageError

CAPTIONING, VQA, CLASSIFICATION = "captioning", "vqa", "classification"
TASKS: dict[str, str] = {
    "captioning": CAPTIONING, "coco": CAPTIONING, "flickr30k": CAPTIONING,
    "vqav2": VQA, "okvqa": VQA, "textvqa": VQA, "vizwiz": VQA,
    "imagenet": CLASSIFICATION, "hateful_memes": CLASSIFICATION,
}
KARPATHY_DEMO_SPLITS = ("train", "restval")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".JPEG", ".JPG", ".PNG")


@dataclass(frozen=True)
class Example:
    """One image with what a task knows about it.

    ``references``: captions (captioning); ``question`` and ``answers`` (VQA); ``label`` (a class
    name) and ``text`` (a meme's words) for classification.
    """

    key: str
    image: str
    references: tuple[str, ...] = ()
    question: str = ""
    answers: tuple[str, ...] = ()
    label: str = ""
    text: str = ""


@dataclass
class TaskData:
    """Queries to score, the pool demonstrations come from, and (classification) the class names."""

    queries: list[Example]
    pool: list[Example]
    class_names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Paths:
    """Where a task's files are (the ``flamingo eval`` data options)."""

    data: str
    images: str = ""
    annotations: str = ""
    split: str = "test"
    demo_data: str = ""
    demo_images: str = ""
    demo_annotations: str = ""
    class_names: str = ""


def _load_json(path: str, what: str) -> object:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist", "check the path") from None
    except ValueError as e:
        raise UsageError(f"{what} {path} is not valid JSON: {e}", "give the benchmark's own file") from None


def _check_images(examples: Sequence[Example], what: str) -> None:
    missing = [e.image for e in examples if not os.path.isfile(e.image)]
    if missing:
        raise UsageError(f"{len(missing)} of {len(examples)} {what} images are missing, e.g. {missing[0]}",
                         "point --images/--demo_images at the image folder")


# ------------------------------------------------------------------------------------ captioning


def _karpathy(data: dict, root: str, splits: Sequence[str]) -> list[Example]:
    out = []
    for i, e in enumerate(data["images"]):
        if e.get("split") not in splits:
            continue
        name = e.get("filename") or e.get("file_name")
        sub = os.path.join(root, e["filepath"], name) if e.get("filepath") else None
        path = sub if sub and os.path.isfile(sub) else os.path.join(root, name)
        key = str(e.get("cocoid", e.get("imgid", e.get("id", i))))
        refs = tuple(s["raw"].strip() for s in e.get("sentences", ()))
        out.append(Example(key=key, image=path, references=refs))
    return out


def _coco_captions(data: dict, root: str) -> list[Example]:
    refs: dict[object, list[str]] = {}
    for a in data["annotations"]:
        refs.setdefault(a["image_id"], []).append(a["caption"].strip())
    return [Example(key=str(im["id"]), image=os.path.join(root, im["file_name"]),
                    references=tuple(refs.get(im["id"], ()))) for im in data["images"] if im["id"] in refs]


def read_captions(path: str, images: str, split: str | None) -> list[Example]:
    """Karpathy JSON (``split`` None: every demonstration split) or a COCO captions JSON."""
    data = _load_json(path, "caption file")
    root = images or os.path.dirname(os.path.abspath(path))
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise UsageError(f"{path} has no 'images' list", "give a Karpathy-split or COCO captions JSON")
    if "annotations" in data:
        return _coco_captions(data, root)
    splits = KARPATHY_DEMO_SPLITS if split is None else (split,)
    return _karpathy(data, root, splits)


def _caption_task(p: Paths) -> TaskData:
    queries = read_captions(p.data, p.images, p.split)
    if p.demo_data:
        pool = read_captions(p.demo_data, p.demo_images, None)
    else:
        data = _load_json(p.data, "caption file")
        if "annotations" in data:
            raise UsageError(f"{p.data} is one split in the COCO captions format",
                             "give the training split's file with --demo_data")
        pool = read_captions(p.data, p.images, None)
    return TaskData(queries, pool)


# ------------------------------------------------------------------------------------------ VQA


def _image_namer(image_dir: str, sample_id: object) -> Callable[[object], str]:
    """How a VQA file's ``image_id`` becomes a file: the name itself, ``<id>.jpg``, or COCO's
    ``COCO_<split>2014_<id:012d>.jpg``; decided once from the first id and the folder's files."""
    if isinstance(sample_id, str) and os.path.splitext(sample_id)[1]:
        return lambda i: os.path.join(image_dir, str(i))
    candidates: list[Callable[[object], str]] = [lambda i: os.path.join(image_dir, f"{i}.jpg")]
    if isinstance(sample_id, int):
        for split in ("train", "val", "test"):
            candidates.append(lambda i, s=split: os.path.join(image_dir, f"COCO_{s}2014_{int(i):012d}.jpg"))
        candidates.append(lambda i: os.path.join(image_dir, f"{int(i):012d}.jpg"))
    for namer in candidates:
        if os.path.isfile(namer(sample_id)):
            return namer
    return candidates[0]


def read_vqa(questions_path: str, annotations_path: str, images: str) -> list[Example]:
    qs = _load_json(questions_path, "questions file")
    if not annotations_path:
        raise UsageError("VQA needs the answers", "give the annotations JSON with --annotations / "
                         "--demo_annotations")
    anns = _load_json(annotations_path, "annotations file")
    if not isinstance(qs, dict) or "questions" not in qs or not isinstance(anns, dict) or "annotations" not in anns:
        raise UsageError(f"{questions_path} / {annotations_path} are not VQA questions and annotations",
                         "give the VQA-format JSON files")
    answers = {a["question_id"]: tuple(x["answer"] for x in a["answers"]) for a in anns["annotations"]}
    root = images or os.path.dirname(os.path.abspath(questions_path))
    questions = [q for q in qs["questions"] if q["question_id"] in answers]
    if not questions:
        return []
    namer = _image_namer(root, questions[0]["image_id"])
    return [Example(key=str(q["question_id"]), image=namer(q["image_id"]), question=q["question"].strip(),
                    answers=answers[q["question_id"]]) for q in questions]


def _vqa_task(p: Paths) -> TaskData:
    if not p.demo_data:
        raise UsageError("VQA demonstrations come from the training questions",
                         "give --demo_data, --demo_annotations and --demo_images")
    return TaskData(read_vqa(p.data, p.annotations, p.images),
                    read_vqa(p.demo_data, p.demo_annotations, p.demo_images or p.images))


# ------------------------------------------------------------------------------- classification


def read_class_names(path: str) -> dict[str, str]:
    """Folder name -> class name, from a JSON object or lines of ``folder<space>name``."""
    if path.endswith(".json"):
        data = _load_json(path, "class-name file")
        if not isinstance(data, dict):
            raise UsageError(f"{path} must map folder names to class names", "a JSON object")
        return {str(k): str(v).strip() for k, v in data.items()}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UsageError(f"class-name file {path} does not exist", "give --class_names") from None
    pairs = [line.strip().split(None, 1) for line in lines if line.strip()]
    return {p[0]: (p[1] if len(p) > 1 else p[0]).strip() for p in pairs}


def read_folders(root: str, names: dict[str, str]) -> list[Example]:
    if not os.path.isdir(root):
        raise UsageError(f"{root} is not a folder", "give a folder with one sub-folder per class")
    out = []
    for folder in sorted(os.listdir(root)):
        sub = os.path.join(root, folder)
        if not os.path.isdir(sub):
            continue
        if folder not in names:
            raise UsageError(f"class folder {folder!r} has no name in the class-name file", "add it")
        for f in sorted(os.listdir(sub)):
            if f.endswith(IMAGE_SUFFIXES):
                out.append(Example(key=f"{folder}/{f}", image=os.path.join(sub, f), label=names[folder]))
    return out


def _imagenet_task(p: Paths) -> TaskData:
    names_file = p.class_names or os.path.join(os.path.dirname(os.path.abspath(p.data)), "classnames.txt")
    names = read_class_names(names_file)
    if not p.demo_data:
        raise UsageError("classification demonstrations come from the training folder", "give --demo_data")
    return TaskData(read_folders(p.data, names), read_folders(p.demo_data, names),
                    sorted(set(names.values())))


HATEFUL_CLASSES = ("no", "yes")  # label 0, 1


def read_hateful_memes(path: str, images: str) -> list[Example]:
    root = images or os.path.dirname(os.path.abspath(path))
    out = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist", "give the HatefulMemes JSONL file") from None
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            out.append(Example(key=str(r["id"]), image=os.path.join(root, r["img"]),
                               label=HATEFUL_CLASSES[int(r["label"])], text=r["text"].strip()))
        except (ValueError, KeyError, IndexError) as e:
            raise UsageError(f"{path}:{n + 1}: not a HatefulMemes record ({e})", "with a label") from None
    return out


def _hateful_memes_task(p: Paths) -> TaskData:
    demo = p.demo_data or os.path.join(os.path.dirname(os.path.abspath(p.data)), "train.jsonl")
    return TaskData(read_hateful_memes(p.data, p.images), read_hateful_memes(demo, p.demo_images or p.images),
                    list(HATEFUL_CLASSES))


def load_task(task: str, paths: Paths) -> TaskData:
    """Read a task's queries and demonstration pool; images are checked to exist."""
    if task not in TASKS:
        raise UsageError(f"unknown task {task!r}", f"known: {', '.join(TASKS)}")
    kind = TASKS[task]
    if kind == CAPTIONING:
        data = _caption_task(paths)
    elif kind == VQA:
        data = _vqa_task(paths)
    elif task == "hateful_memes":
        data = _hateful_memes_task(paths)
    else:
        data = _imagenet_task(paths)
    if not data.queries:
        raise UsageError(f"no queries in {paths.data}" + (f" (split {paths.split!r})" if kind == CAPTIONING else ""),
                         "check --data and --split")
    _check_images(data.queries, "query")
    _check_images(data.pool, "demonstration")
    return data
