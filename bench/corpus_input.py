"""Input for `bench/corpus.py`: a multi-file WARC crawl of thousands of distinct real pages.

Derived from the 181 real article pages in ``../shared/data/article-extraction`` (read, never
copied into the project). Copy ``k`` of page ``p`` is a distinct document:

* its own URL (``…/copy-k`` appended to the page's real URL), so URL dedup keeps it;
* a deterministic perturbation of its text: each word of letters (any script) outside ``<script>``,
  ``<style>`` and comments is replaced, with probability ``replace_frac``, by a word drawn from
  the same page's text (so word statistics, stop words and language stay those of the page);
  at 0.2, 1 - 0.8^5 = 67% of word 5-grams change, which puts the MinHash Jaccard between two
  copies near 0.2, far below the 0.8 near-dup threshold (`max_copy_jaccard` checks it);
* every ``<img>`` rewritten to one of ``images`` distinct JPEGs (crops of scikit-image photos,
  longest side 320-800 px) stored as image records in the same crawl, keeping only its
  ``alt``, ``width``, ``height``, ``class``, ``id`` (so decorative images stay decorative);
  ``<source>`` tags (``<picture>`` candidates) are dropped. No image needs the network.

Pages and images are spread over ``files`` ``.warc.gz`` files like a real crawl. The build is
cached under ``bench/.cache/`` keyed by every parameter, so reruns skip it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import multiprocessing as mp
import os
import random
import re
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

BUILD_VERSION = 1  # bump when the construction changes, so stale caches are not reused
IMAGE_HOST = "https://images.bench.example/photo"
# Markup that must not be perturbed, and tags; what lies between them is page text.
_MARKUP = re.compile(r"(<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<[^>]*>)",
                     re.DOTALL | re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{2,}")  # words of letters, any script
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""")
_KEEP_IMG_ATTRS = ("alt", "width", "height", "class", "id")


@dataclass(frozen=True)
class InputSpec:
    pages: int = 5000
    files: int = 12
    images: int = 2000
    replace_frac: float = 0.2
    seed: int = 0

    def key(self) -> str:
        blob = json.dumps({**asdict(self), "v": BUILD_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


@dataclass
class Template:
    """One real page split into alternating text (even) and markup (odd) parts."""

    page_id: str
    url: str
    parts: list[str]
    vocab: list[str]


def load_templates(data_dir: Path) -> list[Template]:
    truth_path = data_dir / "ground-truth.json"
    truth = json.loads(truth_path.read_text()) if truth_path.exists() else {}
    out = []
    for path in sorted((data_dir / "html").glob("*.html.gz")):
        page_id = path.name.split(".")[0]
        html = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        parts = _MARKUP.split(html)
        vocab = [w for text in parts[0::2] for w in _WORD.findall(text)]
        url = truth.get(page_id, {}).get("url") or f"https://site-{page_id[:8]}.bench.example/article"
        out.append(Template(page_id, url, parts, vocab or ["text"]))
    return out


def copy_url(url: str, copy: int) -> str:
    parts = urlsplit(url)
    path = parts.path.rstrip("/") + f"/copy-{copy}"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def image_url(index: int) -> str:
    return f"{IMAGE_HOST}/{index:05d}.jpg"


def _img_tag(tag: str, url: str) -> str:
    attrs = {k.lower(): v for k, v in _ATTR.findall(tag)}
    kept = "".join(f" {k}={attrs[k]}" for k in _KEEP_IMG_ATTRS if k in attrs)
    return f'<img src="{url}"{kept}>'


def render_copy(t: Template, copy: int, spec: InputSpec) -> bytes:
    """The HTML of copy ``copy`` of template ``t`` (deterministic)."""
    rng = random.Random(f"{spec.seed}:{t.page_id}:{copy}")
    frac, vocab = spec.replace_frac, t.vocab

    def swap(m: re.Match) -> str:
        return vocab[rng.randrange(len(vocab))] if rng.random() < frac else m.group(0)

    out = []
    for i, part in enumerate(t.parts):
        if i % 2 == 0:
            out.append(_WORD.sub(swap, part) if frac > 0 else part)
        elif part[:4].lower() == "<img":
            out.append(_img_tag(part, image_url(rng.randrange(spec.images))))
        elif part[:7].lower() == "<source":
            continue
        else:
            out.append(part)
    return "".join(out).encode("utf-8")


def render_image(index: int, seed: int = 0) -> bytes:
    """A distinct JPEG: a random crop of a scikit-image photo, longest side 320-800 px."""
    from PIL import Image

    from pipeline.samplecrawl.photos import PHOTOS, load_photo

    rng = random.Random(f"img:{seed}:{index}")
    src = load_photo(PHOTOS[index % len(PHOTOS)]).convert("RGB")
    w, h = src.size
    cw, ch = rng.randint(w // 3, w), rng.randint(h // 3, h)
    left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
    crop = src.crop((left, top, left + cw, top + ch))
    side = rng.randint(320, 800)
    scale = side / max(cw, ch)
    # Aspect is at most 3:1 here, so the crop stays within the job's aspect-ratio filter.
    crop = crop.resize((max(160, round(cw * scale)), max(160, round(ch * scale))),
                       Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    crop.save(buf, format="JPEG", quality=rng.randint(70, 92))
    return buf.getvalue()


# --- writing ----------------------------------------------------------------------------------

_TEMPLATES: list[Template] = []  # set in the parent before forking the build workers


def _write_file(args: tuple[int, str, InputSpec]) -> tuple[str, int, int]:
    from pipeline.samplecrawl.warcrecords import CrawlWriter

    file_index, path, spec = args
    name = os.path.basename(path)
    start = datetime(2024, 6, 1, tzinfo=timezone.utc)
    pages = images = 0
    with open(path, "wb") as fh:
        writer = CrawlWriter(fh, start, name)
        writer.warcinfo(name, {"software": "flamingo-kit bench/corpus_input.py",
                               "description": f"bench crawl {spec}"})
        for n in range(file_index, spec.pages, spec.files):
            t = _TEMPLATES[n % len(_TEMPLATES)]
            copy = n // len(_TEMPLATES)
            writer.fetch(copy_url(t.url, copy), render_copy(t, copy, spec), "text/html; charset=utf-8")
            pages += 1
        for i in range(file_index, spec.images, spec.files):
            writer.fetch(image_url(i), render_image(i, spec.seed), "image/jpeg")
            images += 1
    return path, pages, images


def build_input(data_dir: Path, spec: InputSpec, cache_root: Path, workers: int = 2) -> list[str]:
    """The crawl's ``.warc.gz`` paths, built once per spec under ``cache_root``."""
    out = cache_root / f"corpus-{spec.key()}"
    done = out / "DONE.json"
    if done.exists():
        return [str(out / n) for n in json.loads(done.read_text())["files"]]
    global _TEMPLATES
    _TEMPLATES = load_templates(data_dir)
    if not _TEMPLATES:
        raise FileNotFoundError(f"no pages under {data_dir / 'html'}")
    tmp = cache_root / f".tmp-{spec.key()}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    jobs = [(i, str(tmp / f"bench-{i:03d}.warc.gz"), spec) for i in range(spec.files)]
    with mp.get_context("fork").Pool(workers) as pool:
        written = pool.map(_write_file, jobs, chunksize=1)
    names = [os.path.basename(p) for p, _, _ in written]
    (tmp / "DONE.json").write_text(json.dumps({"spec": asdict(spec), "files": names,
                                               "templates": len(_TEMPLATES)}, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    log.info("built %d pages, %d images in %d files under %s", spec.pages, spec.images, spec.files, out)
    return [str(out / n) for n in names]


def max_copy_jaccard(data_dir: Path, spec: InputSpec, templates: int = 20, copies: int = 3) -> float:
    """Largest MinHash Jaccard between two copies of the same page's extracted text, over a
    sample of pages: shows the perturbation defeats near-dup detection as intended."""
    from itertools import combinations

    from pipeline.dedup.minhash import estimated_jaccard, signature_array
    from pipeline.extract import extract_document

    worst = 0.0
    for t in load_templates(data_dir)[:templates]:
        sigs = []
        for c in range(copies):
            doc = extract_document(render_copy(t, c, spec), copy_url(t.url, c))
            if doc is not None:
                sigs.append(signature_array(doc.text))
        for a, b in combinations(sigs, 2):
            worst = max(worst, estimated_jaccard(a, b))
    return worst
