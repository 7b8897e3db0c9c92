"""Public interleaved corpora among the inputs, recognised by content, not by name.

An input that is neither WARC nor HTML is looked at: parquet (``PAR1``) with OBELICS's columns
is OBELICS; JSON lines (plain, gzip or zip) whose first document has ``text_list`` and
``image_info`` is MMC4. Anything else stays an unknown file, counted and skipped.
"""

from __future__ import annotations

from typing import IO

from pipeline.read import mmc4, obelics

OBELICS = "obelics"
MMC4 = "mmc4"


def sniff(f: IO[bytes]) -> str | None:
    """``"obelics"``, ``"mmc4"`` or None for a seekable file; leaves it at offset 0."""
    head = f.read(4)
    f.seek(0)
    try:
        if head == obelics.MAGIC:
            return OBELICS if obelics.row_groups(f) else None
        return MMC4 if mmc4.looks_like(mmc4.parse_line(mmc4.first_line(f))) else None
    except Exception:  # noqa: BLE001 (a corrupt file of any kind is simply not a corpus file)
        return None
    finally:
        f.seek(0)
