"""Deduplication logic: URL and text normalisation, stable hashes, MinHash LSH. Pure; no Beam."""

from pipeline.dedup.minhash import *  # noqa: F401,F403
from pipeline.dedup.minhash import DedupConfig, doc_id, normalize_text, normalize_url, stable_hash, text_hash  # noqa: F401
