"""Job outputs for people and machines: ``stats.json``, ``report.md`` and its plots,
``report.html``, then ``manifest.json``, last.

Counters come from Beam's metrics (every drop reason of every stage); distributions are
histograms of what the shards' indexes hold (counted by the shard writers as they write, see
``pipeline.shards.index.histograms``), so they describe exactly what was written. Every file
goes through :mod:`pipeline.beam.files` (local, ``gs://``, ``s3://``), and the job-level
``manifest.json`` is written only after everything else succeeded: a failure at any moment,
a full disk included, leaves an output without it, which ``flamingo inspect`` reports as an
unfinished job.
"""

from __future__ import annotations

import io
from collections import defaultdict

from pipeline.beam import files, manifests
from pipeline.shards import index, manifest

# Stage order for the funnel in the report, and what each stage's counters count.
STAGES = ("read", "urllist", "extract", "filter", "dedup", "captions", "images", "image_refs", "documents",
          "sequences", "pairs", "clip", "write")
STAGE_HELP = {
    "read": "crawl records: pages go on, image records feed the image stage, OBELICS/MMC4 documents skip "
            "extraction, the rest are dropped by reason",
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
    path = files.join(out_dir, name)
    files.write_json(path, obj)
    return path


def counters_of(result) -> dict[str, dict[str, int]]:
    """Beam metrics -> {namespace: {name: value}} (committed values where the runner has them)."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for c in result.metrics().query()["counters"]:
        value = c.committed if c.committed is not None else c.attempted
        ns, name = c.key.metric.namespace, c.key.metric.name
        out[ns][name] = out[ns].get(name, 0) + int(value or 0)
    return {ns: dict(sorted(v.items())) for ns, v in sorted(out.items())}


def distributions(out_dir: str, entries: list[manifest.ManifestEntry]) -> dict[str, dict[int, int]]:
    """Histograms read back from the shards' parquet indexes (for outputs written without them)."""
    import pyarrow.parquet as pq

    parts = []
    for e in entries:
        with files.open_read(files.join(out_dir, e.shard[: -len(manifest.TAR_SUFFIX)] + manifest.INDEX_SUFFIX)) as f:
            parts.append(index.histograms(pq.read_table(f).to_pylist()))
    return index.merge_histograms(parts)


def summarize(hist: dict[int, int]) -> dict:
    """count, min, p50, p90, max, mean of a histogram ({value: count})."""
    n = sum(hist.values())
    if not n:
        return {"count": 0}
    items = sorted(hist.items())

    def nth(k: int) -> int:  # the k-th smallest value (0-based)
        seen = 0
        for value, c in items:
            seen += c
            if k < seen:
                return value
        return items[-1][0]

    total = sum(v * c for v, c in items)
    return {"count": n, "min": items[0][0], "p50": nth(n // 2), "p90": nth(min(n - 1, int(0.9 * n))),
            "max": items[-1][0], "mean": round(total / n, 2)}


SIZES = "sizes.json"


def finish_job(out_dir: str, result, *, kind: str, prefix: str,
               histograms: dict[str, dict[int, int]] | None = None) -> dict:
    """Write stats.json, report.md (+ PNG plots) and, last, manifest.json; return the stats."""
    entries = manifests.read_entries(out_dir, prefix)
    counters = counters_of(result)
    dists = histograms if histograms is not None else distributions(out_dir, entries)
    stats = {
        "job": kind,
        "shards": [e.shard for e in entries],
        "samples": sum(e.samples for e in entries),
        "images": sum(e.images for e in entries),
        "bytes": sum(e.bytes for e in entries),
        "counters": counters,
        "distributions": {k: summarize(v) for k, v in sorted(dists.items())},
    }
    write_report(out_dir, stats, dists)
    # Samples per shard, as webdataset loaders look for it (open_clip's: no --train-num-samples).
    write_json(out_dir, SIZES, {e.shard: e.samples for e in entries})
    # Last: only a job-level manifest marks the job finished.
    write_json(out_dir, manifest.JOB_MANIFEST, manifest.job_manifest(entries))
    return stats


def write_report(out_dir: str, stats: dict, dists: dict[str, dict[int, int]]) -> None:
    write_json(out_dir, "stats.json", stats)
    plots = plot(out_dir, dists, stats["counters"])
    files.write_bytes(files.join(out_dir, "report.md"), render_report(stats, plots).encode())
    # The same report as a page, with galleries of kept and dropped samples.
    from pipeline.jobs.report_html import write_report_html

    write_report_html(out_dir, stats, dists, stages=STAGES, not_drops=NOT_DROPS)


def plot(out_dir: str, dists: dict[str, dict[int, int]], counters: dict) -> list[str]:
    """Histograms of the distributions and a bar chart of drop reasons, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for name, hist in sorted(dists.items()):
        if not hist:
            continue
        values = sorted(hist)
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.hist(values, weights=[hist[v] for v in values], bins=min(40, max(5, len(values))), color="#d9587a")
        ax.set_title(name.replace("_", " "))
        ax.set_ylabel("count")
        fig.tight_layout()
        rel = f"plots/{name}.png"
        _save(fig, out_dir, rel)
        plt.close(fig)
        names.append(rel)
    drops = [(f"{ns}/{k}", v) for ns, c in counters.items() for k, v in c.items()
             if v and k not in NOT_DROPS and not k.startswith("source_") and ns in STAGES]
    if drops:
        drops.sort(key=lambda kv: kv[1])
        fig, ax = plt.subplots(figsize=(6, 0.3 * len(drops) + 1))
        ax.barh([k for k, _ in drops], [v for _, v in drops], color="#5a7bd9")
        ax.set_title("drop reasons")
        fig.tight_layout()
        _save(fig, out_dir, "plots/drop_reasons.png")
        plt.close(fig)
        names.append("plots/drop_reasons.png")
    return names


def _save(fig, out_dir: str, rel: str) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    files.write_bytes(files.join(out_dir, *rel.split("/")), buf.getvalue())


# Counters that count what went on rather than a drop (report.md's plot and report.html).
NOT_DROPS = frozenset({"ok", "kept", "success", "rows", "scored", "pages", "files", "image_records", "unique",
                       "tokens", "shards", "sequences", "images", "shards_already_complete",
                       "obelics_documents", "mmc4_documents"})


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
