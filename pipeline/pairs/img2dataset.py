"""``--downloader img2dataset``: let ``img2dataset.download`` fetch a URL list, then finish as ours.

For users who want img2dataset's exact download behaviour. What we do:

1. our URL-list reader (same columns, same keys) writes one normalised parquet
   ``url, caption, flamingo_key, flamingo_extra`` into the work directory;
2. ``img2dataset.download(output_format="webdataset")`` fetches it there, with our
   image settings translated (our ``keep_ratio`` is its ``keep_ratio_largest``);
3. Beam workers read its shards back with *our* reader (every sample validated,
   :func:`records_of_shard`), put the bytes in the blob store and turn its parquet's failed
   rows into records, so dedup, CLIP filtering, sharding and stats run exactly as for our
   downloader (the Beam transform is ``pipeline.beam.pairs.ReadImg2datasetShards``).

Its shards are re-written rather than adopted, because keys, shard sizes and the
extra columns must match the other path. What img2dataset does *not* do that ours
does: private-network (SSRF) refusal, body caps, robots.txt; it does honour
X-Robots-Tag. It runs on the machine that launches the job (its own process pool).
"""

from __future__ import annotations

import glob
import json
import logging
import os
from collections.abc import Callable, Iterator

from flamingo.typedconfig import UsageError
from pipeline.pairs import records as pr
from pipeline.shards import reader

log = logging.getLogger(__name__)

_RESIZE_MODES = {"keep_ratio": "keep_ratio_largest", "center_crop": "center_crop", "no": "no"}


def normalised_list(files: list[str], list_config, path: str, opener=None) -> int:
    """Our reader's rows of every input file -> one parquet img2dataset reads; returns the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.read.urllists import file_labels, read_rows

    labels = file_labels(files)
    rows = [
        {"url": r.url, "caption": r.caption, "flamingo_key": r.key,
         "flamingo_extra": json.dumps(r.extra, sort_keys=True)}
        for f in sorted(files) for r in read_rows(f, list_config, labels[f], opener) if r.url
    ]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema(
        [(c, pa.string()) for c in ("url", "caption", "flamingo_key", "flamingo_extra")])), path)
    return len(rows)


def download(files: list[str], cfg, work: str, opener=None) -> list[str]:
    """Run img2dataset on the lists (already matched files, read with ``opener``); returns its
    shards' paths."""
    os.environ.setdefault("WANDB_MODE", "disabled")
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    from img2dataset import download as img2dataset_download

    if "://" in work:
        raise UsageError("--downloader img2dataset needs a local --output",
                         "img2dataset runs on the launching machine")
    listing = os.path.join(work, "list.parquet")
    n = normalised_list(files, cfg.list, listing, opener)
    out = os.path.join(work, "shards")
    im = cfg.image
    log.info("img2dataset: downloading %d rows into %s", n, out)
    img2dataset_download(
        url_list=listing, input_format="parquet", url_col="url", caption_col="caption",
        save_additional_columns=["flamingo_key", "flamingo_extra"], output_format="webdataset",
        output_folder=out, image_size=im.image_size, resize_mode=_RESIZE_MODES[im.resize_mode],
        resize_only_if_bigger=im.resize_only_if_bigger, encode_quality=im.jpeg_quality,
        min_image_size=im.min_side, max_aspect_ratio=im.max_aspect_ratio, timeout=int(im.timeout_s),
        retries=im.retries, thread_count=im.threads, processes_count=1, compute_hash="sha256",
        number_sample_per_shard=max(1, cfg.samples_per_shard), extract_exif=False, enable_wandb=False,
        disallowed_header_directives=sorted(im.disallowed_directives),
        user_agent_token=im.agent_token,
    )
    return sorted(glob.glob(os.path.join(out, "*.tar")))


def records_of_shard(tar_path: str, *, put: Callable[[str, bytes], object],
                     on_invalid: Callable[[str], object]) -> Iterator[pr.PairRecord]:
    """One img2dataset shard -> PairRecords (successes from the tar, failures from its parquet).

    ``put(name, bytes)`` stores each image; ``on_invalid(reason)`` counts a sample our
    validator refuses (it is skipped, with a warning naming it)."""
    import pyarrow.parquet as pq

    seen = set()
    for raw, sample in reader.read_shard(tar_path):
        if sample is None:
            on_invalid("invalid_sample")
            log.warning("%s: %s: %s", tar_path, raw.key, "; ".join(raw.problems))
            continue
        ext = sample.extra
        put(f"{sample.sha256}.{sample.ext}", sample.image)
        seen.add(ext["flamingo_key"])
        yield pr.PairRecord(
            key=ext["flamingo_key"], url=sample.url, caption=sample.caption, sha256=sample.sha256,
            ext=sample.ext, width=sample.width, height=sample.height,
            original_width=int(ext.get("original_width") or sample.width),
            original_height=int(ext.get("original_height") or sample.height),
            extra=json.loads(ext.get("flamingo_extra") or "{}"),
        )
    index = tar_path[: -len(".tar")] + ".parquet"
    for row in pq.read_table(index).to_pylist() if os.path.exists(index) else []:
        if row["status"] != "success" and row["flamingo_key"] not in seen:
            yield pr.PairRecord(key=row["flamingo_key"], url=row["url"], caption=row["caption"] or "",
                                status=row["status"], error=row.get("error_message") or "",
                                extra=json.loads(row.get("flamingo_extra") or "{}"))
