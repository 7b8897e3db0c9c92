"""`flamingo inspect PATH...`: validate shards and summarise them for a person or a machine.

Streams each tar through :mod:`pipeline.shards.format` (never extracted, never unpickled),
validates every sample, and prints counts and distributions. Exits 1 naming shard and
key when any sample fails validation, or when a directory holds a job's files but not its
``manifest.json`` (the job did not finish: killed, or failed, and never resumed); 2 when a
path matches nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field

from flamingo.typedconfig import ArgumentParser, UsageError, add_flags, config, opt, resolve
from pipeline.shards import format as sf
from pipeline.shards import layouts, reader
from pipeline.shards.manifest import JOB_MANIFEST

SUMMARY = "validate shards and summarise them"

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Escape control and bidi characters so shard content cannot drive the terminal."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@dataclass
class Summary:
    shards: int = 0
    samples: int = 0
    invalid: int = 0
    kinds: Counter = field(default_factory=Counter)
    images: int = 0
    bytes: int = 0
    tokens: list[int] = field(default_factory=list)
    images_per_sample: list[int] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    heights: list[int] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)

    def add(self, sample: sf.Sample) -> None:
        self.samples += 1
        self.kinds[sample.kind] += 1
        if isinstance(sample, sf.InterleavedSample):
            self.tokens.append(sample.num_tokens)
            self.images_per_sample.append(len(sample.images))
            sizes = [(i.width, i.height) for i in sample.images]
        elif isinstance(sample, sf.VideoSample):
            self.images_per_sample.append(len(sample.frames))
            sizes = [(f.width, f.height) for f in sample.frames]
        else:
            self.images_per_sample.append(1)
            sizes = [(sample.width, sample.height)]
        self.images += len(sizes)
        self.widths += [w for w, _ in sizes]
        self.heights += [h for _, h in sizes]


def distribution(values: list[int]) -> dict:
    if not values:
        return {"count": 0}
    v = sorted(values)
    pick = lambda q: v[min(len(v) - 1, int(q * len(v)))]  # noqa: E731
    return {
        "count": len(v),
        "min": v[0],
        "p50": pick(0.5),
        "p90": pick(0.9),
        "max": v[-1],
        "mean": round(sum(v) / len(v), 2),
    }


def render_sample(sample: sf.Sample) -> str:
    """A sample as readable text, ``[image WxH URL]`` where each image sits."""
    if isinstance(sample, sf.PairSample):
        head = f"--- pair {sample.key}  {sample.url}"
        body = f"[image {sample.width}x{sample.height} {sample.url}]\n{sample.caption}"
        return printable(f"{head}\n{body}")
    if isinstance(sample, sf.VideoSample):
        fps = f" at {sample.fps:g} fps" if sample.fps else ""
        head = f"--- video {sample.key}  {len(sample.frames)} frames{fps}  {sample.url}"
        frames = " ".join(f"[frame {i} {f.width}x{f.height}]" for i, f in enumerate(sample.frames))
        return printable(f"{head}\n{frames}\n{sample.caption}")
    head = (
        f"--- {sample.key}  doc {sample.doc_id} seq {sample.seq_index}  "
        f"{sample.num_tokens} tokens ({sample.tokenizer})  {sample.url}"
    )
    parts = []
    for seg in sample.segments:
        if isinstance(seg, sf.ImageSlot):
            im = sample.images[seg.index]
            alt = f' alt="{im.alt}"' if im.alt else ""
            parts.append(f"[image {im.width}x{im.height} {im.url}{alt}]")
        else:
            parts.append(seg.text)
    return printable(head + "\n" + "".join(parts))


def inspect_paths(paths: list[str], *, show: int, max_images, max_tokens, out=None) -> Summary:
    out = out or sys.stdout
    summary = Summary()
    shown = 0
    for path in reader.expand_paths(paths):
        summary.shards += 1
        try:
            with reader.open_shard(path) as f:
                summary.bytes += _size(f)
                for raw in reader.iter_raw(f, path):
                    problems = raw.problems or sf.validate(
                        raw.key, raw.members, max_images=max_images, max_tokens=max_tokens
                    )
                    if problems:
                        foreign = layouts.sample_layout(raw.members)
                        if foreign:  # named, not misread as a broken sample of ours
                            problems = [f"{layouts.WHAT[foreign]}; {layouts.HOW[foreign]}"]
                        summary.invalid += 1
                        summary.problems.append({"shard": path, "key": raw.key, "problems": problems})
                        continue
                    sample = sf.decode(raw.key, raw.members)
                    summary.add(sample)
                    if shown < show:
                        print(render_sample(sample), file=out)
                        shown += 1
        except OSError as e:
            summary.problems.append({"shard": path, "key": None, "problems": [f"cannot read: {e}"]})
    return summary


# Files every job writes into its output before anything else (pipeline.jobs.output);
# manifest.json comes last of all.
_JOB_FILES = ("config.json", "_lock.json")


def unfinished_jobs(paths: list[str]) -> list[dict]:
    """Problems for directories that hold a job's files but no ``manifest.json``."""
    problems = []
    for path in paths:
        if any(c in path for c in "*?[{"):
            continue
        names = _listing(path)
        if names is None:
            continue
        if any(n in _JOB_FILES for n in names) and JOB_MANIFEST not in names:
            problems.append({"shard": path, "key": None, "problems": [
                f"unfinished job: no {JOB_MANIFEST} (the job that wrote this output stopped before the end; "
                "rerun it with --resume)"]})
    return problems


def _listing(path: str) -> list[str] | None:
    """The names in a directory (local or fsspec URL), or None if it is not one."""
    if "://" in path and not path.startswith("file://"):
        import fsspec

        fs, _, _ = fsspec.get_fs_token_paths(path)
        try:
            if not fs.isdir(path):
                return None
            return [str(f).rstrip("/").rsplit("/", 1)[-1] for f in fs.ls(path, detail=False)]
        except OSError:
            return None
    local = path.removeprefix("file://")
    return os.listdir(local) if os.path.isdir(local) else None


def _other_files(path: str) -> list[str]:
    """A local directory's parquet and JSON-lines files (an OBELICS or MMC4 directory has no .tar)."""
    if "://" in path or not os.path.isdir(path):
        return []
    return sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith((".parquet", ".jsonl", ".gz", ".zip")))


def _size(f) -> int:
    try:
        return os.fstat(f.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        return int(getattr(f, "size", 0) or 0)


def summary_json(s: Summary) -> dict:
    return {
        "shards": s.shards,
        "samples": s.samples,
        "invalid_samples": s.invalid,
        "kinds": dict(s.kinds),
        "images": s.images,
        "bytes": s.bytes,
        "tokens_per_sample": distribution(s.tokens),
        "images_per_sample": distribution(s.images_per_sample),
        "image_width": distribution(s.widths),
        "image_height": distribution(s.heights),
        "problems": s.problems,
    }


def print_human(s: Summary, out=None) -> None:
    out = out or sys.stdout
    d = summary_json(s)
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(s.kinds.items())) or "none"
    print(f"shards  {s.shards}   bytes {s.bytes:,}", file=out)
    print(f"samples {s.samples} valid ({kinds}), {s.invalid} invalid   images {s.images}", file=out)
    for name in ("tokens_per_sample", "images_per_sample", "image_width", "image_height"):
        dist = d[name]
        if dist["count"]:
            stats = "  ".join(f"{k} {dist[k]}" for k in ("min", "p50", "p90", "max", "mean"))
            print(f"{name:<18} {stats}", file=out)
    for p in s.problems:
        where = f"{p['shard']}" + (f" key {p['key']}" if p["key"] is not None else "")
        for msg in p["problems"]:
            print(printable(f"INVALID {where}: {msg}"), file=out)


@config
class InspectConfig:
    show: int = opt(0, "print N samples as text", min=0)
    max_images: int = opt(sf.MAX_IMAGES, "images a sample may hold; 0 disables the check", min=0)
    max_tokens: int = opt(sf.MAX_TOKENS, "tokens a sequence may hold; 0 disables the check", min=0)
    json: bool = opt(False, "print a machine-readable summary instead")


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="flamingo inspect", description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="+", metavar="PATH", help="shard files, directories, globs or URLs")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    add_flags(p, InspectConfig)
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    cfg = resolve(InspectConfig, args)
    for p in args.paths:
        if "://" not in p and not any(c in p for c in "*?[{") and not os.path.exists(p):
            raise UsageError(f"{p}: no such file or directory")
    try:
        paths = reader.expand_paths(args.paths)
    except sf.ShardFormatError as e:
        raise UsageError(str(e)) from None
    if not paths:
        foreign = next((layouts.check_dataset(found) for found in map(_other_files, args.paths) if found), None)
        raise UsageError(foreign or "no shards match " + " ".join(args.paths))
    try:
        foreign = layouts.check_dataset(paths)
    except OSError:
        foreign = None  # unreadable: reported per shard below
    if foreign:
        e = UsageError(foreign)
        e.exit_code = 1  # the data, not the command line, is wrong
        raise e
    summary = inspect_paths(
        paths,
        show=0 if cfg.json else cfg.show,
        max_images=cfg.max_images or None,
        max_tokens=cfg.max_tokens or None,
    )
    summary.problems += unfinished_jobs(args.paths)
    if cfg.json:
        json.dump(summary_json(summary), sys.stdout, indent=1)
        print()
    else:
        print_human(summary)
    return 1 if summary.problems else 0
