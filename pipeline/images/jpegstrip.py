"""A JPEG's own coded image with every metadata segment removed: stored as is when it already fits.

A JPEG whose size already meets the target needs no resampling, and re-encoding it would only
cost CPU (0.17 of 0.62 ms per 150-256 px photo, bench/README.md, "Images") and a generation of
quality. This module rewrites the file keeping only what decoding needs: the quantisation and
Huffman tables, the frame header (8-bit baseline, extended or progressive Huffman only: the
arithmetic, lossless and hierarchical kinds many decoders lack are re-encoded instead), restart
intervals, the scans, a bare JFIF header (no thumbnail) and Adobe's colour-transform marker.
Everything else goes: EXIF (with its GPS block and thumbnail), XMP, ICC profiles, IPTC,
comments, unknown segments, bytes after the end-of-image marker. Anything this parser does not
recognise makes it decline (``None``): the caller then decodes and re-encodes, as for any image.

Pure: bytes in, bytes out. The caller still decodes the result (which refuses a truncated scan)
before storing it.
"""

from __future__ import annotations

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_FRAMES = {0xC0, 0xC1, 0xC2}  # baseline, extended and progressive Huffman
_TABLES = {0xC4, 0xDB, 0xDD}  # DHT, DQT, DRI
_APP0, _APP14 = 0xE0, 0xEE


def stripped_jpeg(data: bytes) -> bytes | None:
    """``data`` with only the segments decoding needs, or None when it is not a JPEG this
    parser fully understands (then it must be re-encoded)."""
    if not data.startswith(b"\xff\xd8"):
        return None
    out = [b"\xff\xd8"]
    pos, n, frame, scans = 2, len(data), False, 0
    while True:
        pos = _next_marker(data, pos)
        if pos is None or pos + 1 >= n:
            return None
        marker = data[pos + 1]
        if marker == _EOI:
            out.append(b"\xff\xd9")
            return b"".join(out) if frame and scans else None
        if pos + 4 > n:
            return None
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > n:
            return None
        segment, payload = data[pos:end], data[pos + 4 : end]
        if marker in _FRAMES:
            if frame or not payload or payload[0] != 8:  # one frame, 8-bit samples
                return None
            frame = True
            out.append(segment)
        elif marker in _TABLES or (marker == _APP0 and _bare_jfif(payload)) or (
            marker == _APP14 and len(payload) == 12 and payload.startswith(b"Adobe")
        ):
            out.append(segment)
        elif marker == _SOS:
            if not frame:
                return None
            scan_end = _scan_end(data, end)
            if scan_end is None:
                return None
            out.append(data[pos:scan_end])
            end, scans = scan_end, scans + 1
        elif not (0xE0 <= marker <= 0xEF or marker == 0xFE):  # APPn and COM are dropped
            return None  # any other marker (another frame kind, DNL, JPG extensions): decline
        pos = end


def _next_marker(data: bytes, pos: int) -> int | None:
    """Position of the 0xFF that starts the marker at ``pos`` (fill bytes 0xFF skipped)."""
    if pos >= len(data) or data[pos] != 0xFF:
        return None
    while pos + 1 < len(data) and data[pos + 1] == 0xFF:
        pos += 1
    return pos


def _scan_end(data: bytes, pos: int) -> int | None:
    """End of the entropy-coded data from ``pos``: the next marker that is neither a stuffed
    zero (0xFF00) nor a restart marker (0xFFD0-0xFFD7)."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return None
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1
            continue
        return pos


def _bare_jfif(payload: bytes) -> bool:
    """A JFIF APP0 without a thumbnail (x and y thumbnail sizes 0, nothing after them)."""
    return len(payload) == 14 and payload.startswith(b"JFIF\x00") and payload[12:14] == b"\x00\x00"
