"""Benchmark readers on files in each benchmark's own format, and their one-line errors."""

import json

import eval_support as es
import pytest

from flamingo.typedconfig import UsageError
from train.eval.prompts import TEMPLATES, build_prompt
from train.eval.tasks import Example, Paths, load_task


def test_karpathy_json_queries_from_the_split_demos_from_train(tmp_path):
    path = es.karpathy(tmp_path, n_train=5, n_test=3)
    data = load_task("coco", Paths(str(path)))
    assert [q.image.rsplit("/", 1)[1] for q in data.queries] == ["test_0.jpg", "test_1.jpg", "test_2.jpg"]
    assert len(data.pool) == 5 and all("/val2014/train_" in e.image for e in data.pool)
    assert data.queries[0].references == ("A red square.", "a red picture", "something red")


def test_karpathy_json_without_filepath_and_restval(tmp_path):
    path = es.karpathy(tmp_path, n_train=4, n_test=2, filepath=None)
    raw = json.loads(path.read_text())
    raw["images"][0]["split"] = "restval"  # Karpathy's extra training split joins the pool
    raw["images"][1]["split"] = "val"
    path.write_text(json.dumps(raw))
    data = load_task("flickr30k", Paths(str(path)))
    assert len(data.pool) == 3 and len(data.queries) == 2
    val = load_task("captioning", Paths(str(path), split="val"))
    assert [q.key for q in val.queries] == ["1"]


def test_plain_coco_captions_one_file_per_split(tmp_path):
    test = es.coco_captions(tmp_path, "val", 3)
    train = es.coco_captions(tmp_path, "train", 4)
    data = load_task("coco", Paths(str(test), demo_data=str(train)))
    assert [q.key for q in data.queries] == ["1000", "1001", "1002"]
    assert data.queries[1].references == ("a green square 0", "a green square 1")
    assert len(data.pool) == 4
    with pytest.raises(UsageError, match="one split in the COCO captions format"):
        load_task("coco", Paths(str(test)))


def test_vqa_files_with_coco_image_names_and_with_string_ids(tmp_path):
    q, a, imgs = es.vqa(tmp_path / "v2", "val", 3)
    tq, ta, timgs = es.vqa(tmp_path / "v2", "train", 4)
    data = load_task("vqav2", Paths(str(q), images=str(imgs), annotations=str(a), demo_data=str(tq),
                                    demo_images=str(timgs), demo_annotations=str(ta)))
    assert data.queries[0].image.endswith("COCO_val2014_000000000100.jpg")
    assert data.queries[2].answers == ("blue",) * 10 and data.queries[0].question == "What colour is it?"
    assert data.pool[0].image.endswith("COCO_train2014_000000000100.jpg")
    q2, a2, imgs2 = es.vqa(tmp_path / "text", "val", 2, coco_names=False)
    data2 = load_task("textvqa", Paths(str(q2), images=str(imgs2), annotations=str(a2), demo_data=str(q2),
                                       demo_images=str(imgs2), demo_annotations=str(a2)))
    assert data2.queries[1].image.endswith("img1.jpg")


def test_class_folders_and_hateful_memes(tmp_path):
    val = es.class_folders(tmp_path / "imnet", "val", per_class=1)
    train = es.class_folders(tmp_path / "imnet", "train", per_class=2)
    data = load_task("imagenet", Paths(str(val), demo_data=str(train)))
    assert data.class_names == ["blue thing", "green thing", "red thing", "yellow thing"]
    assert [q.label for q in data.queries] == ["red thing", "green thing", "blue thing", "yellow thing"]
    hm = es.hateful_memes(tmp_path / "hm", "dev_seen", 4)
    es.hateful_memes(tmp_path / "hm", "train", 6)
    data = load_task("hateful_memes", Paths(str(hm)))  # train.jsonl beside it is the pool
    assert [q.label for q in data.queries] == ["no", "yes", "no", "yes"] and len(data.pool) == 6
    assert data.queries[1].text == "words green"


def test_errors_are_one_line_usage_errors(tmp_path):
    path = es.karpathy(tmp_path, n_train=3, n_test=2)
    with pytest.raises(UsageError, match="does not exist"):
        load_task("coco", Paths(str(tmp_path / "nope.json")))
    with pytest.raises(UsageError, match="no queries"):
        load_task("coco", Paths(str(path), split="val"))
    with pytest.raises(UsageError, match="images are missing"):
        load_task("coco", Paths(str(path), images=str(tmp_path / "elsewhere")))
    with pytest.raises(UsageError, match="unknown task"):
        load_task("cocoa", Paths(str(path)))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_task("coco", Paths(str(tmp_path / "bad.json")))


def test_prompts_follow_the_pinned_templates():
    demo = Example("1", "a.jpg", references=("a red square", "other"))
    query = Example("2", "b.jpg", references=("x",))
    cap = TEMPLATES["captioning"]
    assert build_prompt(cap, "captioning", [demo, demo], query, text_only=False) == (
        "<image>Output:a red square<|endofchunk|><image>Output:a red square<|endofchunk|><image>Output:")
    # zero-shot: the two demonstrations lose their images, the query keeps its own
    assert build_prompt(cap, "captioning", [demo, demo], query, text_only=True) == (
        "Output:a red square<|endofchunk|>Output:a red square<|endofchunk|><image>Output:")
    q = Example("3", "c.jpg", question="What is it?", answers=("a dog", "dog"))
    assert build_prompt(TEMPLATES["vqa"], "vqa", [q], q, text_only=False) == (
        "<image>Question:What is it? Short answer:a dog<|endofchunk|><image>Question:What is it? Short answer:")
