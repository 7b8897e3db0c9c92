"""One interleaved sample -> one document in OpenFlamingo's MMC4 layout.

OpenFlamingo's MMC4 loader (``open_flamingo/train/data.py``, ``preprocess_interleaved``) reads
``KEY.json`` members only: ``text_list`` (sentences), ``image_info`` (one object per image with
``image_base64``) and ``similarity_matrix`` (one row per image over the sentences). It puts each
image before the sentence its row's argmax points at and drops images whose best similarity is
below ``--mmc4_textsim_threshold`` (default 30).

Our sequences already say where each image stands: before the text that follows it. So
``text_list`` is the sample's text segments, each image is matched to the next one, and the
similarity matrix is a placement matrix, not CLIP scores: ``PLACED`` (100, above OpenFlamingo's
default threshold) at the image's sentence, 0 elsewhere. Text before the first image is
sentence 0 with no image. Read with any threshold from 0 to 100, every image stays where it
stood in our shard.
"""

from __future__ import annotations

import base64

from pipeline.shards import format as sf

PLACED = 100.0


def to_mmc4(sample: sf.InterleavedSample) -> dict:
    """An interleaved sample (with image bytes) -> an MMC4 document (JSON-ready)."""
    text_list: list[str] = []
    matched: list[tuple[int, int]] = []  # (image index, index of the sentence after it)
    pending: list[int] = []
    for seg in sample.segments:
        if isinstance(seg, sf.ImageSlot):
            pending.append(seg.index)
            continue
        for index in pending:
            matched.append((index, len(text_list)))
        pending = []
        text_list.append(seg.text)
    if pending:  # an image with no text after it (our sequences never end so): give it an empty sentence
        matched += [(index, len(text_list)) for index in pending]
        text_list.append("")
    image_info, sims = [], []
    for index, sentence in sorted(matched):
        im = sample.images[index]
        row = [0.0] * len(text_list)
        row[sentence] = PLACED
        sims.append(row)
        image_info.append({
            "image_name": f"{sample.key}.{index}.{im.ext}",
            "raw_url": im.url,
            "matched_text_index": sentence,
            "matched_sim": PLACED,
            "image_base64": base64.b64encode(im.data or b"").decode("ascii"),
            "sha256": im.sha256,
            "width": im.width,
            "height": im.height,
            "alt": im.alt,
        })
    return {
        "url": sample.url,
        "key": sample.key,
        "doc_id": sample.doc_id,
        "seq_index": sample.seq_index,
        "text_list": text_list,
        "image_info": image_info,
        "similarity_matrix": sims,
        "could_have_url_duplicate": 0,
    }
