"""The parquet index beside each shard: one row per sample, to find samples without reading
the tar. Pair shards use img2dataset's columns so its tools read them (plus ours after them).
No Beam, no torch.

Every row also says where its sample lies in the tar: ``tar_offset`` is the byte offset of the
sample's first member header, ``tar_size`` the bytes up to the end of its last member (padding
included), so a reader can seek straight to one sample (``flamingo view`` pages a 10,000-sample
shard this way). Shards written before these columns existed, and img2dataset's, lack them;
readers fall back to scanning the tar's headers."""

from __future__ import annotations

from pipeline.shards import format as sf

OFFSET_COLUMN = "tar_offset"
SIZE_COLUMN = "tar_size"
_LOCATION = (OFFSET_COLUMN, SIZE_COLUMN)


def index_row(sample: sf.Sample, offset: int = 0, size: int = 0) -> dict:
    """One parquet row; ``offset``/``size`` locate the sample's members in the tar.
    Pair shards use img2dataset's columns so its tools read them."""
    return {**_columns(sample), OFFSET_COLUMN: offset, SIZE_COLUMN: size}


def _columns(sample: sf.Sample) -> dict:
    if isinstance(sample, sf.InterleavedSample):
        images = sample.images
        return {
            "key": sample.key,
            "url": sample.url,
            "doc_id": sample.doc_id,
            "seq_index": sample.seq_index,
            "num_tokens": sample.num_tokens,
            "num_images": len(images),
            "image_urls": [i.url for i in images],
            "image_sha256": [i.sha256 for i in images],
            "image_widths": [i.width for i in images],
            "image_heights": [i.height for i in images],
            "image_alts": [i.alt for i in images],
        }
    if isinstance(sample, sf.VideoSample):
        frames = sample.frames
        return {
            "key": sample.key,
            "url": sample.url,
            "caption": sample.caption,
            "num_frames": len(frames),
            "fps": sample.fps,
            "width": sample.width,
            "height": sample.height,
            "frame_sha256": [f.sha256 for f in frames],
        }
    extra = sample.extra
    return {
        "url": sample.url,
        "caption": sample.caption,
        "key": sample.key,
        "status": "success",
        "error_message": None,
        "width": sample.width,
        "height": sample.height,
        "original_width": int(extra.get("original_width") or sample.width),
        "original_height": int(extra.get("original_height") or sample.height),
        "exif": extra["exif"] if isinstance(extra.get("exif"), str) else None,
        "sha256": sample.sha256,
        "page_url": extra.get("page_url"),
        "clip_score": extra.get("clip_score"),
    }


def index_schema(kind: str):
    import pyarrow as pa

    if kind == sf.KIND_PAIR:
        return pa.schema(
            [
                ("url", pa.string()),
                ("caption", pa.string()),
                ("key", pa.string()),
                ("status", pa.string()),
                ("error_message", pa.string()),
                ("width", pa.int64()),
                ("height", pa.int64()),
                ("original_width", pa.int64()),
                ("original_height", pa.int64()),
                ("exif", pa.string()),
                ("sha256", pa.string()),
                ("page_url", pa.string()),
                ("clip_score", pa.float64()),
                *[(n, pa.int64()) for n in _LOCATION],
            ]
        )
    if kind == sf.KIND_VIDEO:
        return pa.schema(
            [
                ("key", pa.string()),
                ("url", pa.string()),
                ("caption", pa.string()),
                ("num_frames", pa.int32()),
                ("fps", pa.float64()),
                ("width", pa.int32()),
                ("height", pa.int32()),
                ("frame_sha256", pa.list_(pa.string())),
                *[(n, pa.int64()) for n in _LOCATION],
            ]
        )
    return pa.schema(
        [
            ("key", pa.string()),
            ("url", pa.string()),
            ("doc_id", pa.string()),
            ("seq_index", pa.int32()),
            ("num_tokens", pa.int32()),
            ("num_images", pa.int32()),
            ("image_urls", pa.list_(pa.string())),
            ("image_sha256", pa.list_(pa.string())),
            ("image_widths", pa.list_(pa.int32())),
            ("image_heights", pa.list_(pa.int32())),
            ("image_alts", pa.list_(pa.string())),
            *[(n, pa.int64()) for n in _LOCATION],
        ]
    )


def histograms(rows) -> dict[str, dict[int, int]]:
    """Index rows -> {distribution: {value: count}}: what the job report summarises and plots.

    Counts of values rather than lists of them, so a job's distributions cost memory in the
    number of distinct values (tokens <= max_tokens, pixels <= image_size), not in samples;
    per-shard histograms add up.
    """
    out: dict[str, dict[int, int]] = {}

    def add(name: str, values) -> None:
        h = out.setdefault(name, {})
        for v in values:
            h[v] = h.get(v, 0) + 1

    for row in rows:
        if "num_tokens" in row:
            add("tokens_per_sequence", [row["num_tokens"]])
            add("images_per_sequence", [row["num_images"]])
            add("image_width", row["image_widths"])
            add("image_height", row["image_heights"])
        else:  # pair shards
            add("image_width", [row["width"]])
            add("image_height", [row["height"]])
            add("caption_words", [len((row["caption"] or "").split())])
    return out


def merge_histograms(parts) -> dict[str, dict[int, int]]:
    out: dict[str, dict[int, int]] = {}
    for part in parts:
        for name, h in part.items():
            into = out.setdefault(name, {})
            for v, n in h.items():
                into[int(v)] = into.get(int(v), 0) + n
    return out
