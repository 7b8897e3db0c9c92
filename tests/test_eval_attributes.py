"""Reading count, colour and shape out of shapes captions (train/eval/attributes.py)."""

import json
import sys
from pathlib import Path

import pytest

from train.eval import synthetic as syn
from train.eval.attributes import attribute_accuracy, read_scene, run_accuracy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))


@pytest.mark.parametrize("count", [1, 2, 3])
def test_every_phrasing_of_both_generators_reads_back(count):
    import independent_shapes as ind

    truth = {"count": count, "colour": "blue", "shape": "square"}
    for caption in syn.captions(syn.Scene(count, "blue", "square")) + ind.phrasings(count, "blue", "square"):
        assert read_scene(caption) == truth, caption


def test_what_a_caption_does_not_say_is_none():
    assert read_scene("Output: a photo") == {"count": None, "colour": None, "shape": None}
    assert read_scene("green triangles") == {"count": None, "colour": "green", "shape": "triangle"}
    assert read_scene("a yellow circle") == {"count": 1, "colour": "yellow", "shape": "circle"}


def test_accuracy_per_attribute(tmp_path):
    rows = [{"references": ["three yellow squares"], "prediction": "a yellow circle"},
            {"references": ["a green triangle"], "prediction": "a green triangle"}]
    assert attribute_accuracy(rows) == {"colour": 1.0, "shape": 0.5, "count": 0.5, "n": 2}
    (tmp_path / "predictions").mkdir()
    (tmp_path / "predictions" / "coco_4shot_trial0.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert run_accuracy(str(tmp_path))["shape"] == 0.5
