"""Beam layer of sequence cutting: documents with their images -> sequence records
(counters ``sequences/<reason>``)."""

from __future__ import annotations

import apache_beam as beam

from pipeline.beam.counters import count
from pipeline.shards import format as sf


class SequencesFn(beam.DoFn):
    """(doc_id, url, nodes) -> sequence records (metadata only; image bytes stay in the store)."""

    def __init__(self, tokenizer: str | None, max_tokens: int, max_images: int,
                 keep_imageless: bool = False):
        self.tokenizer, self.max_tokens, self.max_images = tokenizer, max_tokens, max_images
        self.keep_imageless = keep_imageless

    def setup(self):
        from pipeline.sequences.cut import HFTokenCounter
        from pipeline.sequences.tokenizer import load_counting_tokenizer

        tok, name = load_counting_tokenizer(self.tokenizer)
        self.tokenizer_name = sf.tokenizer_id(name, tok)  # NAME@FINGERPRINT: the trainer checks counts by it
        self.counter = HFTokenCounter(tok)

    def process(self, element):
        from pipeline.sequences.cut import cut_sequences, has_text_after_image

        doc_id, url, nodes = element
        seqs = cut_sequences(nodes, self.counter, max_tokens=self.max_tokens, max_images=self.max_images)
        for index, seq in enumerate(seqs):
            if not seq.images and not self.keep_imageless:
                count("sequences", "dropped_no_image")
                continue
            if seq.images and not has_text_after_image(seq):
                count("sequences", "dropped_no_text_after_image")
                continue
            count("sequences", "kept")
            count("sequences", "tokens", seq.num_tokens)
            yield sf.make_key(url, index), {
                "doc_id": doc_id, "url": url, "seq_index": index, "num_tokens": seq.num_tokens,
                "tokenizer": self.tokenizer_name, "segments": seq.segments, "images": seq.images,
            }
