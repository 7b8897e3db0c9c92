"""`flamingo export`: our shards -> OpenFlamingo's MMC4 loader and Hugging Face `datasets`, with the real clients."""

import base64
import hashlib
import json
import os
import random
import sys
import tarfile

import pytest
from export_support import sample, write_shards

from flamingo.typedconfig import UsageError
from pipeline.export import mmc4
from pipeline.export.openflamingo import OpenFlamingoTokenizer
from pipeline.jobs import export
from pipeline.shards import format as sf

RUNNER = ["--runner", "FnApiRunner"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    return d, write_shards(d)


@pytest.fixture(scope="module")
def mmc4_out(shards, tmp_path_factory):
    out = tmp_path_factory.mktemp("mmc4")
    return out, run_export(shards[0], out, "mmc4")


def run_export(shards_dir, out, fmt):
    return export.run(["--format", fmt, "--input", str(shards_dir), "--output", str(out), *RUNNER])


def test_mmc4_document_places_each_image_before_the_text_after_it():
    s = sample(4, 2)
    doc = mmc4.to_mmc4(s)
    assert doc["text_list"] == [seg.text for seg in s.segments if isinstance(seg, sf.TextSegment)]
    assert [i["matched_text_index"] for i in doc["image_info"]] == [1, 2]
    assert [max(range(3), key=row.__getitem__) for row in doc["similarity_matrix"]] == [1, 2]
    assert base64.b64decode(doc["image_info"][0]["image_base64"]) == s.images[0].data
    first = mmc4.to_mmc4(sample(0, 1, lead_text=False))  # image first: matched to sentence 0
    assert [i["matched_text_index"] for i in first["image_info"]] == [0]


def test_mmc4_export_is_deterministic_with_sizes_and_manifest(shards, mmc4_out, tmp_path):
    src, samples = shards
    out, manifest = mmc4_out
    assert manifest["samples"] == len(samples) and manifest["images"] == sum(len(s.images) for s in samples)
    assert json.loads((out / "sizes.json").read_text()) == {"corpus-00000.tar": 3, "corpus-00001.tar": 3}
    with tarfile.open(out / "corpus-00000.tar") as tar:
        assert all(m.name.endswith(".json") and m.name.count(".") == 1 for m in tar.getmembers())
    again = run_export(src, tmp_path, "mmc4")
    assert [f["sha256"] for f in again["files"]] == [f["sha256"] for f in manifest["files"]]
    assert hashlib.sha256((out / "corpus-00000.tar").read_bytes()).hexdigest() == manifest["files"][0]["sha256"]
    with pytest.raises(UsageError, match="already holds"):
        run_export(src, out, "mmc4")


def open_flamingo_data():
    """open_flamingo/train/data.py, whose ``from data_utils import *`` wants its own folder on the
    path. Loaded under a private name, and the folder (which holds a ``train.py``) taken off the
    path again, so nothing named ``data`` or ``train`` shadows anything afterwards."""
    import importlib.util

    spec = importlib.util.find_spec("open_flamingo")
    assert spec is not None, "the test extra installs open-flamingo (pip install --no-deps open-flamingo==2.0.1)"
    folder = os.path.join(spec.submodule_search_locations[0], "train")
    sys.path.insert(0, folder)
    try:
        module_spec = importlib.util.spec_from_file_location("open_flamingo_train_data", os.path.join(folder, "data.py"))
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
        sys.modules.pop("data_utils", None)
    return module


def test_open_flamingo_mmc4_preprocessing_reads_the_export(shards, mmc4_out):
    """OpenFlamingo's own MMC4 pipeline (webdataset + preprocess_interleaved) on our export."""
    import functools

    import torch
    import torchvision.transforms as T
    import webdataset as wds
    from transformers import AutoTokenizer

    from pipeline.sequences.tokenizer import default_tokenizer_files

    _, samples = shards
    out, _ = mmc4_out
    data = open_flamingo_data()
    tok = OpenFlamingoTokenizer(AutoTokenizer.from_pretrained(os.path.dirname(default_tokenizer_files()[0])))
    clip = T.Compose([T.Resize((224, 224)), T.ToTensor()])
    preprocess = functools.partial(data.preprocess_interleaved, tokenizer=tok, clip_processor=clip,
                                   sim_threshold=30, min_num_images=1, max_num_images=6)
    tars = sorted(str(out / n) for n in os.listdir(out) if n.endswith(".tar"))
    # (OpenFlamingo's get_mmc4_dataset ignores sizes.json: it always wants --train_num_samples_mmc4.)
    random.seed(0)
    out, errors = [], []
    for (json_bytes,) in wds.WebDataset(tars, shardshuffle=False).to_tuple("json"):
        try:
            out.append(preprocess([json_bytes]))
        except ValueError as e:
            errors.append(str(e))
    image_id = tok.additional_special_tokens_ids[1]
    multi = [s for s in samples if len(s.images) > 1]
    # Every multi-image sample gives a batch with all its images; OpenFlamingo drops about half
    # of the single-image ones on purpose ("Only one image in sample"), nothing else.
    assert set(errors) <= {"Only one image in sample"} and len(out) + len(errors) == len(samples)
    counts = sorted(int(torch.count_nonzero(ids == image_id)) for _, (ids, _) in out)
    assert counts[-len(multi):] == sorted(len(s.images) for s in multi)
    images, (ids, mask) = out[-1]
    assert images.shape[1:] == (3, 224, 224) and ids.shape == mask.shape == (1, 256)


def test_obelics_export_loads_in_hugging_face_with_every_image(shards, tmp_path):
    import datasets
    from PIL import Image

    src, samples = shards
    manifest = run_export(src, tmp_path, "obelics")
    assert [f["file"] for f in manifest["files"]] == ["corpus-00000.parquet", "corpus-00001.parquet"]
    again = run_export(src, tmp_path / "again", "obelics")
    assert [f["sha256"] for f in again["files"]] == [f["sha256"] for f in manifest["files"]]
    ds = datasets.load_dataset("parquet", data_files=sorted(str(p) for p in tmp_path.glob("*.parquet")),
                               split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert len(ds) == len(samples)
    assert isinstance(ds.features["images"].feature, datasets.Image)
    for row, s in zip(ds, samples):
        got = [im for im in row["images"] if im is not None]
        assert len(got) == len(s.images) and all(isinstance(im, Image.Image) for im in got)
        assert [im.size for im in got] == [(i.width, i.height) for i in s.images]
        texts = [t for t in row["texts"] if t is not None]
        assert texts == [seg.text for seg in s.segments if isinstance(seg, sf.TextSegment)]
        assert json.loads(row["general_metadata"])["url"] == s.url


def test_export_refuses_pair_shards_in_one_line(tmp_path):
    from pipeline.shards.writer import write_shard

    data = sample(0, 1).images[0].data
    pair = sf.PairSample(key="p0", url="http://x.example/a.jpg", caption="a cat", image=data, width=320,
                         height=240, sha256=sf.sha256_hex(data))
    write_shard(str(tmp_path / "pairs"), "00000", [pair])
    with pytest.raises(UsageError, match="samples are image-text pair samples, not interleaved sequences"):
        run_export(tmp_path / "pairs", tmp_path / "out", "mmc4")
    assert not (tmp_path / "out").exists()
