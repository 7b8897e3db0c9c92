"""Job outputs for people and machines: ``stats.json``, ``report.md`` and its plots, ``report.html``.

Counters come from Beam's metrics (every drop reason of every stage); distributions
come from the shards' parquet indexes, so they describe exactly what was written.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict

from pipeline.shards import manifest

# Stage order for the funnel in the report, and what each stage's counters count.
STAGES = ("read", "urllist", "extract", "filter", "dedup", "captions", "images", "image_refs", "documents",
          "sequences", "pairs", "clip", "write")
STAGE_HELP = {
    "read": "crawl records: pages go on, image records feed the image stage, the rest are dropped by reason",
    "extract": "pages -> documents (main content, images in place); drops by reason",
    "extract_method": "how each kept page's content was found: main selection, or a fallback method",
    "filter": "documents through the text filters (language, length, Gopher rules, flagged words)",
    "dedup": "kept documents: duplicates by normalised URL, exact text, MinHash near-duplicates",
    "images": "each unique image URL, fetched once: status, and where the bytes came from",
    "image_refs": "each image reference in a unique document: its fate",
    "documents": "documents after their images were attached",
    "sequences": "M3W-style sequences cut from the documents",
    "write": "what the shards hold",
    "pairs": "image-text pairs",
    "captions": "captions through the caption filters",
    "urllist": "rows of the URL lists",
    "clip": "pairs scored by the CLIP model",
}


def write_json(out_dir: str, name: str, obj) -> str:
    path = os.path.join(out_dir, name)
    os.makedirs(out_dir, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True, default=str)
    os.replace(tmp, path)
    return path


def counters_of(result) -> dict[str, dict[str, int]]:
    """Beam metrics -> {namespace: {name: value}} (committed values where the runner has them)."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for c in result.metrics().query()["counters"]:
        value = c.committed if c.committed is not None else c.attempted
        ns, name = c.key.metric.namespace, c.key.metric.name
        out[ns][name] = out[ns].get(name, 0) + int(value or 0)
    return {ns: dict(sorted(v.items())) for ns, v in sorted(out.items())}


def distributions(out_dir: str, entries: list[manifest.ManifestEntry]) -> dict[str, list[int]]:
    import pyarrow.parquet as pq

    values: dict[str, list[int]] = defaultdict(list)
    for e in entries:
        table = pq.read_table(os.path.join(out_dir, e.shard[: -len(manifest.TAR_SUFFIX)] + manifest.INDEX_SUFFIX))
        cols = table.to_pydict()
        if "num_tokens" in cols:
            values["tokens_per_sequence"] += cols["num_tokens"]
            values["images_per_sequence"] += cols["num_images"]
            values["image_width"] += [w for ws in cols["image_widths"] for w in ws]
            values["image_height"] += [h for hs in cols["image_heights"] for h in hs]
        else:  # pair shards
            values["image_width"] += cols["width"]
            values["image_height"] += cols["height"]
            values["caption_words"] += [len((c or "").split()) for c in cols["caption"]]
    return dict(values)


def summarize(values: list[int]) -> dict:
    if not values:
        return {"count": 0}
    v = sorted(values)
    return {"count": len(v), "min": v[0], "p50": v[len(v) // 2], "p90": v[min(len(v) - 1, int(0.9 * len(v)))],
            "max": v[-1], "mean": round(sum(v) / len(v), 2)}


def finish_job(out_dir: str, result, *, kind: str) -> dict:
    """Write manifest.json, stats.json and report.md (+ PNG plots); return the stats."""
    manifest.write_job_manifest(out_dir)
    entries = manifest.read_manifests(out_dir)
    counters = counters_of(result)
    dists = distributions(out_dir, entries)
    stats = {
        "job": kind,
        "shards": [e.shard for e in entries],
        "samples": sum(e.samples for e in entries),
        "images": sum(e.images for e in entries),
        "bytes": sum(e.bytes for e in entries),
        "counters": counters,
        "distributions": {k: summarize(v) for k, v in dists.items()},
    }
    write_json(out_dir, "stats.json", stats)
    plots = plot(out_dir, dists, counters)
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(render_report(stats, plots))
    # --- issue 17: the same report as a page, with galleries (pipeline/jobs/report_html.py) ---
    from pipeline.jobs.report_html import write_report_html

    write_report_html(out_dir, stats, dists, stages=STAGES, not_drops=_NOT_DROPS)
    return stats


def plot(out_dir: str, dists: dict[str, list[int]], counters: dict) -> list[str]:
    """Histograms of the distributions and a bar chart of drop reasons, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(os.path.join(out_dir, "plots"), exist_ok=True)
    names = []
    for name, values in sorted(dists.items()):
        if not values:
            continue
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.hist(values, bins=min(40, max(5, len(set(values)))), color="#d9587a")
        ax.set_title(name.replace("_", " "))
        ax.set_ylabel("count")
        fig.tight_layout()
        rel = f"plots/{name}.png"
        fig.savefig(os.path.join(out_dir, rel), dpi=90)
        plt.close(fig)
        names.append(rel)
    drops = [(f"{ns}/{k}", v) for ns, c in counters.items() for k, v in c.items()
             if v and k not in _NOT_DROPS and not k.startswith("source_") and ns in STAGES]
    if drops:
        drops.sort(key=lambda kv: kv[1])
        fig, ax = plt.subplots(figsize=(6, 0.3 * len(drops) + 1))
        ax.barh([k for k, _ in drops], [v for _, v in drops], color="#5a7bd9")
        ax.set_title("drop reasons")
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "plots/drop_reasons.png"), dpi=90)
        plt.close(fig)
        names.append("plots/drop_reasons.png")
    return names


_NOT_DROPS = {"ok", "kept", "success", "rows", "scored", "pages", "files", "image_records", "unique", "tokens", "shards",
              "sequences", "images", "shards_already_complete"}


def render_report(stats: dict, plots: list[str]) -> str:
    lines = [f"# {stats['job'].capitalize()} job report", ""]
    lines += [f"{len(stats['shards'])} shards, {stats['samples']:,} samples, {stats['images']:,} images, "
              f"{stats['bytes']:,} bytes.", "", "## What happened at each stage", ""]
    for ns in [s for s in STAGES if s in stats["counters"]] + [s for s in stats["counters"] if s not in STAGES]:
        items = ", ".join(f"{k} {v:,}" for k, v in stats["counters"][ns].items())
        help_ = f" ({STAGE_HELP[ns]})" if ns in STAGE_HELP else ""
        lines.append(f"- **{ns}**{help_}: {items}")
    lines += ["", "## Distributions", "", "| | count | min | p50 | p90 | max | mean |", "|---|---|---|---|---|---|---|"]
    for name, d in stats["distributions"].items():
        if d.get("count"):
            lines.append(f"| {name.replace('_', ' ')} | {d['count']} | {d['min']} | {d['p50']} | {d['p90']} | "
                         f"{d['max']} | {d['mean']} |")
    lines += [""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(lines)
