"""Small OBELICS and MMC4 files in the corpora's real schemas, for the import tests."""

from __future__ import annotations

import gzip
import io
import json
import zipfile

STORIES = [
    ("http://news.example/harbour", [
        "The old harbour of the town was rebuilt last spring after years of storms had damaged the stone walls.",
        "Fishermen now bring their boats in through a wider channel, and the market on the quay opens every morning.",
        "Visitors walk along the new promenade to watch the boats come home in the evening light.",
    ]),
    ("http://blog.example/bread", [
        "Baking bread at home takes patience more than skill, and the first loaf is rarely the best one you will make.",
        "Mix the flour with water and salt, then leave the dough to rest for an hour before you shape it by hand.",
        "A hot oven and a little steam give the crust its colour, so put a tray of water below the loaf while it bakes.",
    ]),
]
MMC4_STORIES = [
    ("http://news.example.org/harbour", [
        "A rocket lifted off from the coast on Tuesday morning, carrying a small weather satellite into orbit.",
        "Fishermen in the nearby villages stopped their work to watch the bright trail climb over the sea.",
        "Engineers said the launch went well and that the satellite would send its first pictures next week.",
    ]),
    ("http://blog.example.org/bread", [
        "My cat spends most of the afternoon asleep on the windowsill, where the sun warms the old wooden frame.",
        "When the neighbours' dog barks she opens one eye, looks around the garden and goes back to sleep.",
        "In the evening she waits by the kitchen door until somebody remembers that it is time for her dinner.",
    ]),
]


def obelics_rows(image_url) -> list[dict]:
    """OBELICS rows (HuggingFaceM4/OBELICS columns): texts/images aligned, one set per position."""
    rows = []
    for (url, paras), names in zip(STORIES, (["astronaut", "coffee"], ["chelsea"])):
        texts, images, meta = [], [], []
        texts.append(paras[0]), images.append(None), meta.append(None)
        for i, name in enumerate(names):
            texts.append(None), images.append(image_url(name))
            meta.append({"document_url": url, "unformatted_src": image_url(name), "src": image_url(name),
                         "formatted_filename": name, "alt_text": f"a photo of {name}", "original_width": 320,
                         "original_height": 240})
            texts.append(paras[i + 1]), images.append(None), meta.append(None)
        rows.append({"images": images, "metadata": json.dumps(meta), "general_metadata": json.dumps(
            {"url": url, "warc_filename": "crawl-data/CC-MAIN-2020-05/x.warc.gz", "warc_record_offset": 1,
             "warc_record_length": 2}), "texts": texts})
    return rows


def write_obelics(path, image_url, row_group_size: int = 1) -> list[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = obelics_rows(image_url)
    schema = pa.schema([("images", pa.list_(pa.string())), ("metadata", pa.string()),
                        ("general_metadata", pa.string()), ("texts", pa.list_(pa.string()))])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), str(path), row_group_size=row_group_size)
    return rows


def mmc4_docs(image_url) -> list[dict]:
    """MMC4 documents (allenai/mmc4 fields): images matched to sentences by CLIP similarity."""
    docs = []
    for (url, paras), names in zip(MMC4_STORIES, (["rocket", "coffee"], ["chelsea"])):
        info, sims = [], []
        for i, name in enumerate(names):
            row = [0.1] * len(paras)
            row[i + 1] = 0.3 if name != "coffee" else 0.12  # coffee: below a 0.2 threshold
            sims.append(row)
            info.append({"raw_url": image_url(name), "image_name": f"{name}.jpg", "matched_text_index": i + 1,
                         "matched_sim": row[i + 1], "face_detections": None})
        docs.append({"url": url, "text_list": paras, "image_info": info,
                     "similarity_matrix": sims, "could_have_url_duplicate": 0})
    return docs


def write_mmc4(path, image_url, compression: str = "") -> list[dict]:
    docs = mmc4_docs(image_url)
    data = "".join(json.dumps(d) + "\n" for d in docs).encode()
    if compression == "gz":
        data = gzip.compress(data, mtime=0)
    elif compression == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("docs_shard_0_v2.jsonl", data)
        data = buf.getvalue()
    path.write_bytes(data)
    return docs
