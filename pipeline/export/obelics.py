"""Interleaved samples -> OBELICS-layout parquet rows, image bytes embedded.

OBELICS's columns: ``texts`` and ``images`` are lists of one length with exactly one of the two
set per position, in reading order; ``metadata`` (a JSON list, one object per position) and
``general_metadata`` (a JSON object with the page's ``url``). OBELICS itself stores image URLs;
we store each image as Hugging Face's image struct (``{"bytes", "path"}``), and the schema
carries Hugging Face's feature metadata (``images``: a list of ``Image``), so
``datasets.load_dataset("parquet", ...)`` decodes every image of every row. One row per
sequence (at most 256 tokens, 5 images), not per page.
"""

from __future__ import annotations

import json

from pipeline.shards import format as sf

# Hugging Face's feature description, stored in the parquet schema's metadata under "huggingface".
# A list of features is spelt as a one-element JSON list, which every datasets version reads.
HF_FEATURES = {
    "texts": [{"dtype": "string", "_type": "Value"}],
    "images": [{"_type": "Image"}],
    "metadata": {"dtype": "string", "_type": "Value"},
    "general_metadata": {"dtype": "string", "_type": "Value"},
}


def to_row(sample: sf.InterleavedSample) -> dict:
    """An interleaved sample (with image bytes) -> one OBELICS row."""
    texts, images, meta = [], [], []
    for seg in sample.segments:
        if isinstance(seg, sf.TextSegment):
            texts.append(seg.text)
            images.append(None)
            meta.append(None)
        else:
            im = sample.images[seg.index]
            texts.append(None)
            images.append({"bytes": im.data, "path": f"{sample.key}.{seg.index}.{im.ext}"})
            meta.append({"document_url": sample.url, "src": im.url, "alt_text": im.alt, "sha256": im.sha256,
                         "rendered_width": im.width, "rendered_height": im.height})
    general = {"url": sample.url, "key": sample.key, "doc_id": sample.doc_id, "seq_index": sample.seq_index,
               "num_tokens": sample.num_tokens, "tokenizer": sample.tokenizer}
    return {"texts": texts, "images": images, "metadata": json.dumps(meta, ensure_ascii=False),
            "general_metadata": json.dumps(general, ensure_ascii=False, sort_keys=True)}


def schema():
    """The parquet schema, with Hugging Face's feature metadata."""
    import pyarrow as pa

    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    fields = [("texts", pa.list_(pa.string())), ("images", pa.list_(image)), ("metadata", pa.string()),
              ("general_metadata", pa.string())]
    hf = {"info": {"features": HF_FEATURES}}
    return pa.schema(fields, metadata={"huggingface": json.dumps(hf)})
