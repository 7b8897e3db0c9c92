"""Deduplication logic, pure (no Beam): which copy of a page stays (``keys``: URL and text
normalisation, stable hashes, ranks) and MinHash LSH near-duplicates (``minhash``)."""
