"""The corpus job without Beam: the same stage functions in a plain `multiprocessing.Pool`.

The baseline for `bench/corpus.py`. Each stage calls the same pure code the Beam job's DoFns
call (``warc.iter_warc``, ``extract_with_reason``, ``Filter.check``, the dedup keys and
ranks, ``mark_bucket``, ``process_image`` / ``ImageFetcher``, ``cut_sequences`` with the same
tokenizer, ``pipeline.shards.writer.write_shard``), and every global step (dedup, the repeated-image rule,
shard assignment) runs in the parent on the small things the workers return. It is written to
be fast, not a strawman: files are read inside the workers, each worker carries a file from
WARC bytes to filter verdict and MinHash bands in one go (no bytes cross a process boundary),
image bytes stay in the blob store, and only the few pages that share a dedup key are ranked.

Phases (each a pool map, then a step in the parent):
1. read + extract + filter + dedup keys + band keys, per file; crawl images to the blob store;
2. URL, exact-text and MinHash-LSH dedup (star rule, as `pipeline.beam.dedup.NearDedup`);
3. each referenced image URL once: the crawl copy, else the safe HTTP fetcher; repeated pHash;
4. assemble each document's surviving images in place and cut sequences;
5. fixed-size shards in the job's key order, written in parallel; then the job files.

Counters use the job's namespace/name scheme so the two runs can be compared one to one.
"""

from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict
from dataclasses import dataclass

from pipeline.beam.blobstore import get_blob, put_blob
from pipeline.dedup.keys import doc_id, near_id, text_key, text_rank, url_key, url_rank
from pipeline.dedup.minhash import band_keys, lsh_params, mark_bucket, signature_array
from pipeline.filter.rules import Subject
from pipeline.images.body import header_opt_outs
from pipeline.jobs import report
from pipeline.jobs.corpus import CorpusConfig
from pipeline.read import warc
from pipeline.shards import format as sf
from pipeline.shards import manifest
from pipeline.shards import writer as sw

log = logging.getLogger(__name__)
IMAGE_BATCH = 64  # URLs per task, as the job's BatchElements maximum


@dataclass
class Kept:
    """A document that passed the text filter, with its dedup keys."""

    doc: object
    url_key: str
    text_key: str
    near_id: str
    bands: list[str]
    sig: bytes


# --- worker side: state per process, created on first use (as DoFn.setup) --------------------

_CFG: CorpusConfig | None = None
_ROOTS: dict[str, str] = {}
_STATE: dict[str, object] = {}


def _init(cfg: CorpusConfig, roots: dict[str, str]) -> None:
    global _CFG, _ROOTS
    _CFG, _ROOTS = cfg, roots
    _STATE.clear()


def _state(name: str):
    if name not in _STATE:
        if name == "filter":
            from pipeline.filter.rules import Filter

            _STATE[name] = Filter("text", _CFG.filter)
        elif name == "fetcher":
            from pipeline.images import ImageFetcher

            _STATE[name] = ImageFetcher(_CFG.image)
        elif name == "counter":
            from pipeline.sequences.cut import HFTokenCounter
            from pipeline.sequences.tokenizer import load_counting_tokenizer
            from pipeline.shards.format import tokenizer_id

            tok, display = load_counting_tokenizer(_CFG.tokenizer)
            _STATE["tokenizer_name"] = tokenizer_id(display, tok)  # as SequencesFn writes it
            _STATE[name] = HFTokenCounter(tok)
    return _STATE[name]


def read_file(path: str) -> tuple[list[Kept], list[tuple[str, str]], Counter]:
    """Phase 1 for one crawl file: kept documents with keys, crawl images (url, blob name)."""
    from pipeline.extract import extract_with_reason

    counts: Counter = Counter()
    kept, images = [], []
    tf, dedup = _state("filter"), _CFG.dedup
    bands, rows = lsh_params(dedup.threshold, dedup.num_perm)
    with open(path, "rb") as f:
        for rec in warc.iter_warc(f, path):
            if isinstance(rec, warc.ImageRecord):
                counts["read/image_records"] += 1
                name = sf.sha256_hex(rec.body)
                put_blob(_ROOTS["crawl"], name, rec.body)
                images.append((rec.url, (name, rec.robots)))
                continue
            if isinstance(rec, warc.Skip):
                counts[f"read/{rec.reason}"] += 1
                continue
            counts["read/pages"] += 1
            doc, reason = extract_with_reason(rec.body, rec.url, http_charset=rec.charset)
            if doc is not None:  # the response's X-Robots-Tag, as ExtractFn reads it
                doc.opt_out = frozenset(doc.opt_out | header_opt_outs(rec.robots, _CFG.image.agent_token))
            if doc is None or "noai" in doc.opt_out:
                counts[f"extract/{reason or 'failed'}" if doc is None else "extract/opt_out_noai"] += 1
                continue
            counts["extract/ok"] += 1
            counts[f"extract_method/{doc.method}"] += 1
            ok, reason = tf.check(Subject(doc.text, doc.lang))
            counts[f"filter/{reason}"] += 1
            if ok:
                sig = signature_array(doc.text, num_perm=dedup.num_perm,
                                      shingle_words=dedup.shingle_words, seed=dedup.seed).astype("<u4")
                kept.append(Kept(doc, url_key(doc), text_key(doc), near_id(doc),
                                 band_keys(sig, bands, rows), sig.tobytes()))
    counts["read/files"] += 1
    return kept, images, counts


def fetch_images(batch: list[tuple[str, tuple | None, str]]) -> list[tuple[str, dict, Counter]]:
    """Phase 3: (url, crawl blob or None, referer) -> (url, outcome); ok bytes to the store."""
    from pipeline.images import ImageRequest

    requests = []
    for url, blob, referer in batch:  # the crawl's copy goes to the fetcher, as FetchImagesFn does
        if blob is not None:
            name, robots = blob
            requests.append(ImageRequest(url=url, referer=referer, crawl_robots=robots,
                                         crawl_data=get_blob(_ROOTS["crawl"], name)))
        else:
            requests.append(ImageRequest(url=url, referer=referer))
    results = {r.url: r for r in _state("fetcher").fetch_many(requests)}
    out = []
    for url, _, _ in batch:
        r = results[url]
        counts = Counter({f"images/{r.status}": 1, f"images/source_{r.source or 'none'}": 1})
        outcome = {"status": r.status}
        if r.status == "ok":
            put_blob(_ROOTS["images"], f"{r.sha256}.{r.ext}", r.data)
            outcome.update(sha256=r.sha256, width=r.width, height=r.height, phash=r.phash, ext=r.ext)
        out.append((url, outcome, counts))
    return out


def assemble_and_cut(item: tuple[str, object, dict[int, dict]]) -> tuple[list, Counter]:
    """Phase 4 for one document: surviving images in place (as AssembleFn), then sequences."""
    from pipeline.document import ImageNode
    from pipeline.sequences.cut import cut_sequences, has_text_after_image

    did, doc, fates = item
    counts: Counter = Counter()
    nodes, pos, kept = [], 0, 0
    for node in doc.nodes:
        if not isinstance(node, ImageNode):
            nodes.append(node.text)
            continue
        outcome = fates.get(pos)
        pos += 1
        if outcome is None:
            counts["image_refs/" + ("page_noimageai" if "noimageai" in doc.opt_out else "missing")] += 1
            continue
        counts[f"image_refs/{outcome['status']}"] += 1
        if outcome["status"] == "ok":
            kept += 1
            nodes.append(sf.ImageRef(node.url, outcome["sha256"], outcome["width"], outcome["height"],
                                   node.alt or node.caption, outcome["ext"]))
    if not kept and not _CFG.keep_docs_without_images:
        counts["documents/dropped_no_images"] += 1
        return [], counts
    counts["documents/kept"] += 1
    counter = _state("counter")
    seqs = cut_sequences(nodes, counter, max_tokens=_CFG.max_tokens, max_images=_CFG.max_images)
    out = []
    for index, seq in enumerate(seqs):
        if not seq.images:
            counts["sequences/dropped_no_image"] += 1
            continue
        if not has_text_after_image(seq):
            counts["sequences/dropped_no_text_after_image"] += 1
            continue
        counts["sequences/kept"] += 1
        counts["sequences/tokens"] += seq.num_tokens
        out.append((sf.make_key(doc.url, index), {
            "doc_id": did, "url": doc.url, "seq_index": index, "num_tokens": seq.num_tokens,
            "tokenizer": _STATE["tokenizer_name"], "segments": seq.segments, "images": seq.images}))
    return out, counts


def write_one(item: tuple[int, list]) -> dict:
    """Phase 5: one shard, samples in key order, image bytes from the store."""
    index, records = item
    from pipeline.sequences.cut import to_sample

    def load(m):
        return get_blob(_ROOTS["images"], f"{m.sha256}.{m.ext}")

    samples = (to_sample(key, r, load) for key, r in sorted(records, key=lambda kv: kv[0]))
    return sw.write_shard(_ROOTS["out"], f"{_CFG.shard_prefix}-{index:05d}", samples).to_json()


# --- parent side: the global steps ------------------------------------------------------------


def _best(items: list[Kept], key: str, rank, counts: Counter, name: str) -> list[Kept]:
    """Keep the smallest-rank document per key (ranks only where a key is shared)."""
    groups: dict[str, list[Kept]] = defaultdict(list)
    for k in items:
        groups[getattr(k, key)].append(k)
    out = []
    for group in groups.values():
        counts[f"dedup/{name}"] += len(group) - 1
        out.append(group[0] if len(group) == 1 else min(group, key=lambda k: rank(k.doc)))
    return out


def deduplicate(kept: list[Kept], cfg: CorpusConfig, counts: Counter) -> list[Kept]:
    """URL, exact-text, then MinHash LSH dedup, with the job's keys, ranks and star rule."""
    if cfg.dedup.by_url:
        kept = _best(kept, "url_key", url_rank, counts, "url_duplicate")
    if cfg.dedup.by_text:
        kept = _best(kept, "text_key", text_rank, counts, "exact_duplicate")
    if cfg.dedup.near:
        buckets: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
        for k in kept:
            for band in k.bands:
                buckets[band].append((k.near_id, k.sig))
        marked = {m for b in buckets.items() if len(b[1]) > 1
                  for m, _ in mark_bucket(b, cfg.dedup.threshold)}
        counts["dedup/near_duplicate"] += sum(k.near_id in marked for k in kept)
        kept = [k for k in kept if k.near_id not in marked]
    counts["dedup/unique"] += len(kept)
    return kept


def image_tasks(docs: dict[str, object], crawl: dict[str, str]):
    """Referenced image URL -> refs [(doc_id, position)], and fetch batches in URL order."""
    refs: dict[str, list[tuple[str, int]]] = defaultdict(list)
    referer: dict[str, str] = {}
    for did, doc in docs.items():
        if "noimageai" in doc.opt_out:
            continue
        for i, node in enumerate(doc.images):
            refs[node.url].append((did, i))
            referer[node.url] = min(referer.get(node.url, doc.url), doc.url)
    tasks = [(u, crawl.get(u), referer[u]) for u in sorted(refs)]
    batches = [tasks[i : i + IMAGE_BATCH] for i in range(0, len(tasks), IMAGE_BATCH)]
    return refs, batches


def image_fates(refs, outcomes: dict[str, dict], max_docs: int) -> dict[str, dict[int, dict]]:
    """Per document, position -> outcome; ok images in more than ``max_docs`` docs repeated."""
    by_hash: dict[str, set[str]] = defaultdict(set)
    for url, outcome in outcomes.items():
        if outcome["status"] == "ok":
            by_hash[outcome["phash"] or outcome["sha256"]].update(d for d, _ in refs[url])
    repeated = {h for h, docs in by_hash.items() if len(docs) > max_docs}
    fates: dict[str, dict[int, dict]] = defaultdict(dict)
    for url, outcome in outcomes.items():
        if outcome["status"] == "ok" and (outcome["phash"] or outcome["sha256"]) in repeated:
            outcome = {"status": "repeated_image"}
        for did, i in refs[url]:
            fates[did][i] = outcome
    return fates


def assign_shards(records: list, size: int) -> list[tuple[int, list]]:
    """The job's AssignShards order: by key, ``size`` per shard."""
    ordered = sorted(records, key=lambda kv: kv[0])
    return [(i // size, ordered[i : i + size]) for i in range(0, len(ordered), size)]


def finish(out: str, counts: Counter) -> dict:
    """stats.json, report.md with plots, report.html and, last, manifest.json, as `report.finish_job` writes them."""
    entries = manifest.read_manifests(out)
    counters: dict[str, dict[str, int]] = defaultdict(dict)
    for k, v in sorted(counts.items()):
        ns, name = k.split("/", 1)
        counters[ns][name] = v
    dists = report.distributions(out, entries)
    stats = {"job": "corpus", "shards": [e.shard for e in entries],
             "samples": sum(e.samples for e in entries), "images": sum(e.images for e in entries),
             "bytes": sum(e.bytes for e in entries), "counters": dict(counters),
             "distributions": {k: report.summarize(v) for k, v in sorted(dists.items())}}
    report.write_report(out, stats, dists)
    manifest.write_job_manifest(out)
    return stats


def run(inputs: list[str], output: str, cfg: CorpusConfig, workers: int) -> dict:
    """The whole job on ``workers`` processes; returns the stats (as the job's ``run``)."""
    import multiprocessing as mp

    work = os.path.join(output, "_work")
    roots = {"crawl": f"{work}/crawl", "images": f"{work}/images", "out": output}
    _init(cfg, roots)  # the parent runs the cheap no-image documents itself
    counts: Counter = Counter()
    files = sorted(inputs, key=lambda p: -os.path.getsize(p))  # largest first: balanced tail
    with mp.get_context("fork").Pool(workers, initializer=_init, initargs=(cfg, roots)) as pool:
        kept, crawl = [], {}
        for docs, images, c in pool.imap_unordered(read_file, files):
            kept += docs
            counts.update(c)
            for url, entry in images:
                crawl[url] = min(crawl.get(url, entry), entry)
        unique = {doc_id(k.doc.url): k.doc for k in deduplicate(kept, cfg, counts)}
        refs, batches = image_tasks(unique, crawl)
        outcomes = {}
        for batch in pool.imap_unordered(fetch_images, batches):
            for url, outcome, c in batch:
                outcomes[url] = outcome
                counts.update(c)
        fates = image_fates(refs, outcomes, cfg.max_repeat_docs)
        has_ok = {d for d, f in fates.items() if any(o["status"] == "ok" for o in f.values())}
        items = [(d, doc, fates.get(d, {})) for d, doc in sorted(unique.items())]
        local = [it for it in items if it[0] not in has_ok and not cfg.keep_docs_without_images]
        remote = [it for it in items if it[0] in has_ok or cfg.keep_docs_without_images]
        records = []
        chunk = max(1, len(remote) // (workers * 8))
        for recs, c in [*map(assemble_and_cut, local),
                        *pool.imap_unordered(assemble_and_cut, remote, chunksize=chunk)]:
            records += recs
            counts.update(c)
        for entry in pool.imap_unordered(write_one, assign_shards(records, cfg.samples_per_shard)):
            counts["write/shards"] += 1
            counts["write/sequences"] += entry["samples"]
            counts["write/images"] += entry["images"]
        pool.close()
        pool.join()
    stats = finish(output, counts)
    if not cfg.keep_work:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return stats
