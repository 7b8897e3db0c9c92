"""Which dedup stages run, and the MinHash / LSH parameters."""

from __future__ import annotations

from flamingo.typedconfig import config, opt


@config
class DedupConfig:
    by_url: bool = opt(True, "keep one document per normalised URL")
    by_text: bool = opt(True, "keep one document per normalised text")
    near: bool = opt(True, "drop MinHash near-duplicates")
    threshold: float = opt(0.8, "estimated Jaccard of word 5-gram sets at or above which documents are "
                           "near-duplicates", above=0.0, max=1.0)
    num_perm: int = opt(128, "MinHash permutations", min=1, max=1024)
    shingle_words: int = opt(5, "words per shingle", min=1, max=32)
    seed: int = opt(1, "seed of the MinHash permutations", min=0)
