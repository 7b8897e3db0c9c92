"""Other projects' layouts, named instead of misread.

A tar of OpenFlamingo-style MMC4 samples (``KEY.json`` with ``text_list`` and ``image_info``,
images as base64 inside), an OBELICS parquet file or an MMC4 jsonl file handed to
``flamingo inspect`` or ``flamingo train`` would otherwise read as hundreds of invalid samples
("a pair needs exactly one image member") or a corrupt tar. This module recognises them and
says, in one line, what they are and which command imports them. It also owns the two
predicates the corpus job's readers use to recognise the same corpora. No Beam, no torch.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from typing import IO

from pipeline.shards import format as sf

MMC4 = "mmc4"
OBELICS = "obelics"
OBELICS_COLUMNS = ("texts", "images", "general_metadata")
FIRST_SAMPLES = 8  # a dataset whose first samples are all of another layout stops

WHAT = {
    MMC4: "MMC4-style samples (KEY.json with text_list and image_info: OpenFlamingo's MMC4 layout)",
    OBELICS: "OBELICS-style samples (KEY.json with texts and images lists)",
    sf.KIND_PAIR: "image-text pair samples",
    sf.KIND_INTERLEAVED: "interleaved sequence samples",
    sf.KIND_VIDEO: "video samples",
}
HOW = {
    MMC4: "import MMC4 documents (.jsonl, .jsonl.gz, .jsonl.zip) with `flamingo corpus --input FILES`",
    OBELICS: "import OBELICS parquet files with `flamingo corpus --input FILES`",
    sf.KIND_PAIR: 'give this dataset kind = "pair"',
    sf.KIND_INTERLEAVED: 'give this dataset kind = "interleaved"',
    sf.KIND_VIDEO: 'give this dataset kind = "video"',
}
OURS = (sf.KIND_INTERLEAVED, sf.KIND_PAIR, sf.KIND_VIDEO)


def is_mmc4_document(obj: object) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("text_list"), list) and isinstance(obj.get("image_info"), list)


def is_obelics_columns(names) -> bool:
    return all(c in names for c in OBELICS_COLUMNS)


def sample_layout(members: dict[str, bytes]) -> str | None:
    """``"mmc4"`` or ``"obelics"`` for a foreign sample's members, else None."""
    try:
        meta = json.loads(members.get("json", b""))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if is_mmc4_document(meta):
        return MMC4
    if isinstance(meta, dict) and isinstance(meta.get("texts"), list) and isinstance(meta.get("images"), list):
        return OBELICS
    return None


def layout_of(members: dict[str, bytes], key: str) -> str:
    """``interleaved``, ``pair``, ``video``, ``mmc4``, ``obelics``, or ``invalid``."""
    foreign = sample_layout(members)
    if foreign:
        return foreign
    if sf.validate(key, members, check_images=False, max_images=None):
        return "invalid"
    return sf.decode(key, members).kind


def file_layout(f: IO[bytes]) -> str | None:
    """An OBELICS parquet or MMC4 jsonl(.gz) file, from a seekable file's content; else None."""
    head = f.read(4)
    f.seek(0)
    try:
        if head == b"PAR1":
            import pyarrow.parquet as pq

            return OBELICS if is_obelics_columns(pq.ParquetFile(f).schema_arrow.names) else None
        stream = gzip.GzipFile(fileobj=f) if head[:2] == b"\x1f\x8b" else f
        return MMC4 if is_mmc4_document(json.loads(stream.readline(1 << 20))) else None
    except Exception:  # noqa: BLE001 (not parquet, not JSON: not one of these files)
        return None
    finally:
        f.seek(0)


def file_message(path: str, layout: str) -> str:
    kind = "an OBELICS parquet file" if layout == OBELICS else "an MMC4 jsonl file"
    return f"{path} is {kind}, not a shard: import it with `flamingo corpus --input {path}`"


def first_samples_problem(layouts: list[str], path: str, expected: str | None = None, *,
                          foreign_only: bool = False) -> str | None:
    """One line if the first samples of a dataset (``layouts``, from :func:`layout_of`) are all
    of a layout we cannot use; None if any of them is usable. ``expected``: the dataset's kind
    (None: any of ours); ``foreign_only``: speak only of other projects' layouts."""
    usable = {expected} if expected else set(OURS)
    if not layouts or usable & set(layouts):
        return None
    top = Counter(layouts).most_common(1)[0][0]
    if top not in WHAT or (foreign_only and top not in (MMC4, OBELICS)):
        return None  # invalid samples are reported one by one, as before
    want = f" in {'an' if expected[0] in 'aeiou' else 'a'} {expected} dataset" if expected else ""
    return f"{path}: the first {len(layouts)} samples are {WHAT[top]}{want}; {HOW[top]}"


def first_layouts(path: str, n: int = FIRST_SAMPLES) -> list[str]:
    """The layouts of a shard's first ``n`` samples (fewer if it holds fewer)."""
    from pipeline.shards import reader

    out = []
    with reader.open_shard(path) as f:
        for raw in reader.iter_raw(f, path):
            out.append("invalid" if raw.problems else layout_of(raw.members, raw.key))
            if len(out) == n:
                break
    return out


def check_dataset(paths: list[str], expected: str | None = None, *, foreign_only: bool = False) -> str | None:
    """One line naming a foreign file or layout at the start of a dataset, else None."""
    from pipeline.shards import reader

    for path in paths:
        if not path.endswith(".tar"):
            with reader.open_shard(path) as f:
                layout = file_layout(f)
            if layout:
                return file_message(path, layout)
    if not paths:
        return None
    return first_samples_problem(first_layouts(paths[0]), paths[0], expected, foreign_only=foreign_only)
