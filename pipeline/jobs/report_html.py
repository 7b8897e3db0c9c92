"""``report.html``: the job report as one self-contained page beside ``report.md``.

The funnel (pages → documents → kept → sequences, and images likewise) as a chart, every
drop reason of every stage with its count, the distributions as histograms, a gallery of
kept samples and, per drop reason, of the dropped documents and images the job kept in
``OUTPUT/dropped/`` (:mod:`pipeline.beam.dropped`). "Random" here is deterministic: kept
samples are those with the smallest hash of their key, as the dropped ones are chosen.

Charts are inline SVG, images are embedded thumbnails, the stylesheet is inlined under a
Content-Security-Policy that allows nothing else: the file can be mailed or attached and
opened anywhere, and it loads nothing. Every string from the data is escaped
(:mod:`pipeline.view.markup`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from pipeline.beam import files
from pipeline.beam.dropped import DROPPED_DIR
from pipeline.jobs.report import NOT_DROPS
from pipeline.shards import manifest
from pipeline.view.catalog import Catalog
from pipeline.view.export import thumb_src
from pipeline.view.markup import Markup, anchor_id, el
from pipeline.view.model import SampleView, build
from pipeline.view.pages import document, sample_card

KEPT_IN_GALLERY = 12
THUMB_PX = 160

# (label, namespace, counter) steps; a counter None sums the namespace, a tuple sums those names.
FUNNELS = {
    "corpus": {
        "documents": [("pages read", "read", "pages"), ("documents extracted", "extract", "ok"),
                      ("kept by the text filters", "filter", "kept"), ("unique after dedup", "dedup", "unique"),
                      ("kept with their images", "documents", "kept"), ("sequences written", "write", "sequences")],
        "images": [("image references", "image_refs", None), ("unique image URLs fetched", "images", "*fetched"),
                   ("images fetched and decoded", "images", "ok"), ("references kept", "image_refs", "ok"),
                   ("images in sequences written", "write", "images")],
    },
    "pairs": {
        "pairs": [("URL-list rows", "urllist", "rows"), ("caption candidates", "captions", None),
                  ("captions kept", "captions", "kept"), ("pair rows written", "pairs", None),
                  ("pairs written", "write", "pairs")],
        "images": [("unique image URLs fetched", "images", "*fetched"), ("images fetched and decoded", "images", "ok")],
    },
}


def _value(counters: dict, ns: str, name) -> int | None:
    c = counters.get(ns)
    if not c:
        return None
    if name is None:
        return sum(c.values())
    if name == "*fetched":  # one status counter per unique URL; source_* counters count them again
        return sum(v for k, v in c.items() if not k.startswith("source_"))
    return c.get(name)


def funnel_steps(kind: str, counters: dict) -> dict[str, list[tuple[str, int]]]:
    out = {}
    for name, steps in FUNNELS.get(kind, {}).items():
        values: list[tuple[str, int]] = []
        for label, ns, c in steps:
            v = _value(counters, ns, c)
            if v is not None or values:  # after the first counted step, a missing counter is a 0
                values.append((label, v or 0))
        if values:
            out[name] = values
    return out


def bar_chart(rows: list[tuple[str, int]], *, width: int = 520, drop: bool = False, top: int | None = None) -> Markup:
    """Horizontal bars as SVG (no style attributes: the page's policy allows none)."""
    top = top or max([v for _, v in rows] + [1])
    line, label_w = 24, 250
    bars = []
    for n, (label, value) in enumerate(rows):
        y = n * line
        w = max(1, round((width - label_w - 70) * value / top)) if value else 0
        bars += [el("text", {"x": 0, "y": y + 16}, label),
                 el("rect", {"x": label_w, "y": y + 4, "width": w, "height": 16, "rx": 2,
                             "class": "drop" if drop else None}),
                 el("text", {"x": label_w + w + 6, "y": y + 16}, f"{value:,}")]
    return el("svg", {"class": "hist", "width": width, "height": len(rows) * line + 8,
                      "viewbox": f"0 0 {width} {len(rows) * line + 8}", "role": "img"}, bars)


def histogram(values: list[float], title: str, *, width: int = 340, height: int = 170, bins: int = 30) -> Markup:
    lo, hi = min(values), max(values)
    bins = max(1, min(bins, len(set(values))))
    span = (hi - lo) or 1
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / span * bins))] += 1
    top, plot_h, bw = max(counts), height - 40, (width - 20) / bins
    rects = [el("rect", {"x": round(10 + i * bw, 1), "y": round(20 + plot_h - plot_h * c / top, 1),
                         "width": round(max(bw - 1, 1), 1), "height": round(plot_h * c / top, 1)})
             for i, c in enumerate(counts) if c]
    labels = [el("text", {"x": 10, "y": 14}, f"{title} ({len(values):,})"),
              el("text", {"x": 10, "y": height - 6}, f"{lo:g}"),
              el("text", {"x": width - 10, "y": height - 6, "text-anchor": "end"}, f"{hi:g}")]
    return el("svg", {"class": "hist", "width": width, "height": height, "viewbox": f"0 0 {width} {height}",
                      "role": "img"}, rects, labels)


def drop_reasons(counters: dict, stages: tuple[str, ...], not_drops: set[str]) -> dict[str, list[tuple[str, int]]]:
    out = {}
    # Stages only (not e.g. dropped_sample/items), and not write: it counts what the shards hold.
    for ns in [s for s in stages if s in counters and s != "write"]:
        rows = [(k, v) for k, v in counters[ns].items() if v and k not in not_drops and not k.startswith("source_")]
        if rows:
            out[ns] = sorted(rows, key=lambda kv: (-kv[1], kv[0]))
    return out


def _key_rank(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def kept_sample(out_dir: str, shards: list[str], n: int) -> tuple[Catalog, list[tuple[int, str]]]:
    """The ``n`` written samples with the smallest hash of their key (an even, repeatable choice)."""
    catalog = Catalog([files.join(out_dir, s) for s in shards], opener=files.open_read)
    keys = [(_key_rank(k), s.index, k) for s in catalog.shards for k in catalog.table(s.index).columns["key"]]
    return catalog, [(i, k) for _, i, k in sorted(keys)[:n]]


def dropped_samples(out_dir: str, **limits) -> dict[tuple[str, str], list[SampleView]]:
    names = [p.rsplit("/", 1)[-1] for p in files.match(files.join(out_dir, DROPPED_DIR, "*" + manifest.TAR_SUFFIX))]
    catalog = Catalog(sorted(files.join(out_dir, DROPPED_DIR, n) for n in names
                             if not n.startswith(".") and not files.is_temporary(n)), opener=files.open_read)
    out: dict[tuple[str, str], list[SampleView]] = defaultdict(list)
    for shard in catalog.shards:
        for key in catalog.table(shard.index).columns["key"]:
            region = catalog.read(shard.index, key)
            view = build(key, region.members, region.problems, **limits)
            d = view.dropped or {}
            out[(str(d.get("stage", "?")), str(d.get("reason", "?")))].append(view)
    return out


def render(stats: dict, *, kept: list[SampleView], dropped: dict[tuple[str, str], list[SampleView]],
           dists: dict[str, list], stages: tuple[str, ...], not_drops: set[str], thumb_px: int = THUMB_PX) -> str:
    kind, counters, src = stats.get("job", "?"), stats.get("counters", {}), thumb_src(thumb_px)
    body = [el("h1", {}, f"{str(kind).capitalize()} job report"),
            el("p", {"class": "muted"}, f"{len(stats.get('shards', []))} shards, {stats.get('samples', 0):,} samples, "
               f"{stats.get('images', 0):,} images, {stats.get('bytes', 0):,} bytes.")]
    funnels = funnel_steps(kind, counters)
    if funnels:
        body.append(el("h2", {"id": "funnel"}, "Funnel"))
        for name, steps in funnels.items():
            body += [el("h3", {}, name), bar_chart(steps)]
    reasons = drop_reasons(counters, stages, not_drops)
    body.append(el("h2", {"id": "drops"}, "Why things were dropped"))
    if not reasons:
        body.append(el("p", {}, "Nothing was dropped."))
    for ns, rows in reasons.items():
        shown = [(r, len(dropped.get((ns, r), []))) for r, _ in rows]
        body += [el("h3", {}, ns), bar_chart(rows, drop=True),
                 el("p", {"class": "muted"}, "examples: ",
                    [[el("a", {"href": f"#{anchor_id('drop', ns, r)}"}, f"{r} ({n})"), " "] for r, n in shown if n]
                    or "none kept for this stage")]
    body.append(el("h2", {"id": "distributions"}, "Distributions"))
    summaries = {k: d for k, d in stats.get("distributions", {}).items() if d.get("count")}
    head = el("tr", {}, [el("th", {}, h) for h in ("", "count", "min", "p50", "p90", "max", "mean")])
    body.append(el("p", {}, "No samples were written.") if not summaries else el("table", {"class": "rows"}, head,
                   [el("tr", {}, el("td", {}, name.replace("_", " ")),
                       [el("td", {"class": "num"}, d.get(k, "")) for k in ("count", "min", "p50", "p90", "max", "mean")])
                    for name, d in summaries.items()]))
    body.append(el("div", {"class": "hists"},
                   [histogram(v, name.replace("_", " ")) for name, v in sorted(dists.items()) if v]))
    body += [el("h2", {"id": "kept"}, f"Kept samples ({len(kept)} of {stats.get('samples', 0):,}, chosen by key hash)"),
             el("div", {"class": "gallery"}, [sample_card(v, image_src=src) for v in kept]) if kept
             else el("p", {}, "No samples were written.")]
    body.append(el("h2", {"id": "dropped"}, "Dropped, by reason"))
    if not dropped:
        body.append(el("p", {}, "The job kept no examples of its drops (--dropped_per_reason 0, or nothing dropped)."))
    for (ns, reason), views in sorted(dropped.items()):
        total = counters.get(ns, {}).get(reason)
        body += [el("h3", {"id": anchor_id("drop", ns, reason)}, f"{ns} / {reason}",
                    el("span", {"class": "muted"}, f" — {len(views)} shown" + (f" of {total:,}" if total else ""))),
                 el("div", {"class": "gallery"}, [_dropped_card(v, src) for v in views])]
    return document(f"{kind} job report", body, inline_css=True, search=None)


def _dropped_card(view: SampleView, src) -> Markup:
    detail = (view.dropped or {}).get("detail")
    card = sample_card(view, image_src=src)
    return el("div", {}, card, el("div", {"class": "muted excerpt"}, str(detail))) if detail else card


def write_report_html(out_dir: str, stats: dict, dists: dict[str, list], *, stages: tuple[str, ...],
                      not_drops: frozenset[str] | set[str] = NOT_DROPS, kept: int = KEPT_IN_GALLERY) -> str:
    """Write ``OUT/report.html`` (atomically) and return its path."""
    catalog, picks = kept_sample(out_dir, stats.get("shards", []), kept)
    kept_views = []
    for i, key in picks:
        region = catalog.read(i, key)
        kept_views.append(build(key, region.members, region.problems))
    html = render(stats, kept=kept_views, dropped=dropped_samples(out_dir), dists=dists, stages=stages,
                  not_drops=not_drops)
    path = files.join(out_dir, "report.html")
    files.write_bytes(path, html.encode())
    return path
