"""The synthetic shapes benchmark: deterministic, captions decided by what is drawn, readable by the
evaluation and the trainer; the learns-to-see helpers; the gates' learning-rate multiplier."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.shards import reader
from pipeline.shards.format import layout_text
from train.eval import synthetic as syn
from train.eval.tasks import Paths, load_task


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    path = syn.write_benchmark(str(root), syn.SyntheticConfig(train=24, test=8, image_size=96))
    return root, path


def test_same_config_same_bytes(tmp_path, bench):
    root, path = bench
    again = syn.write_benchmark(str(tmp_path), syn.SyntheticConfig(train=24, test=8, image_size=96))
    assert json.loads(open(path).read()) == json.loads(open(again).read())
    for name in ("train_000003.jpg", "test_000005.jpg"):
        assert (root / "images" / name).read_bytes() == (tmp_path / "images" / name).read_bytes()
    other = syn.write_benchmark(str(tmp_path / "s1"), syn.SyntheticConfig(train=24, test=8, image_size=96, seed=1))
    assert json.loads(open(other).read()) != json.loads(open(path).read())


def _colour_fraction(img: Image.Image, rgb) -> float:
    a = np.asarray(img, dtype=np.int32)
    return float((np.abs(a - np.array(rgb)).max(axis=2) < 60).mean())


def test_captions_say_what_is_drawn(bench):
    root, path = bench
    entries = json.loads(open(path).read())["images"]
    assert {e["split"] for e in entries} == {"train", "test"} and len(entries) == 32
    for e in entries:
        scene = e["scene"]
        refs = [s["raw"] for s in e["sentences"]]
        assert len(refs) == 5 and all(scene["colour"] in r and scene["shape"] in r for r in refs)
        word = {1: "a", 2: "two", 3: "three"}[scene["count"]]
        assert refs[0] == f"{word} {scene['colour']} {scene['shape']}{'s' if scene['count'] > 1 else ''}"
        img = Image.open(root / "images" / e["filename"]).convert("RGB")
        fractions = {c: _colour_fraction(img, rgb) for c, rgb in syn.COLOURS.items()}
        # the named colour covers a good part of the picture; the others (grey photos) next to nothing
        assert fractions[scene["colour"]] > 0.01 * scene["count"], (e["filename"], fractions)
        assert all(f < 0.01 for c, f in fractions.items() if c != scene["colour"]), (e["filename"], fractions)


def test_the_benchmark_reads_as_a_coco_task(bench):
    _, path = bench
    data = load_task("coco", Paths(path))
    assert len(data.queries) == 8 and len(data.pool) == 24


def test_document_shards_read_like_few_shot_prompts(tmp_path, bench):
    _, path = bench
    tars = syn.write_document_shards(str(tmp_path), path, images_per_doc=4, repeats=2)
    docs = list(reader.iter_samples(tars))
    assert len(docs) == 2 * 24 // 4 and all(len(d.images) == 4 for d in docs)
    by_name = {e["filename"]: e for e in json.loads(open(path).read())["images"]}
    for d in docs:
        text = layout_text(d.segments)
        assert text.startswith("<image>Output:") and text.count("<image>Output:") == 4
        captions = [t.text[len("Output:"):] for t in d.segments if hasattr(t, "text")]
        styles = {[s["raw"] for s in by_name[im.url]["sentences"]].index(c) for im, c in zip(d.images, captions)}
        assert len(styles) == 1  # one phrasing per document
    seen = [im.url for d in docs for im in d.images]
    assert sorted(set(seen)) == sorted(n for n, e in by_name.items() if e["split"] == "train")


def test_held_out_pairs_differ_in_colour_and_shape(bench):
    from train.see import held_out_pairs

    _, path = bench
    a, b = held_out_pairs(path, 2)
    assert a["split"] == b["split"] == "test"
    assert a["scene"]["colour"] != b["scene"]["colour"] and a["scene"]["shape"] != b["scene"]["shape"]


def test_gate_learning_rate_multiplier():
    from train.config import PRESETS, OptimConfig
    from train.optim import build_optimizer, set_lr

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(2, 2)
            self.attn_gate = torch.nn.Parameter(torch.zeros(1))

    model = Block()
    opt = build_optimizer(model, OptimConfig(lr=1e-3, gate_lr_mult=20.0))
    set_lr(opt, 1e-3)
    lrs = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert lrs[id(model.attn_gate)] == pytest.approx(2e-2) and lrs[id(model.proj.weight)] == pytest.approx(1e-3)
    plain = build_optimizer(model, OptimConfig(lr=1e-3))
    assert len(plain.param_groups) == 2  # default: the grouping is unchanged
    see = PRESETS.get("see")
    assert see.optim.gate_lr_mult == 20.0 and see.model.preset == "see-clip"
    assert see.data.image_placement == "next"  # each caption conditioned on its own image (train/see.py)
    from pipeline.cli.demo import DemoConfig
    from train.see import SeeConfig

    assert SeeConfig().steps == DemoConfig().see_steps == see.steps  # one recipe, one step count


def test_the_independent_held_out_set_shares_no_code_and_reads_as_coco(tmp_path):
    """bench/independent_shapes.py: drawn without the project's generator, read by flamingo eval."""
    import ast
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "independent_shapes.py"
    tree = ast.parse(path.read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"train", "flamingo", "pipeline"}
    spec = importlib.util.spec_from_file_location("independent_shapes", path)
    ind = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ind)
    test = ind.write_split(str(tmp_path), "test", 3, seed=7)
    train = ind.write_split(str(tmp_path), "train", 5, seed=7)
    data = load_task("coco", Paths(test, demo_data=train))
    assert len(data.queries) == 3 and len(data.pool) == 5
    for q in data.queries:
        colour = next(c for c in ind.COLOURS if c in q.references[0])
        assert all(colour in r for r in q.references)
        assert _colour_fraction(Image.open(q.image).convert("RGB"), ind.COLOURS[colour]) > 0.01


def test_object_sizes_are_refused_when_the_range_is_upside_down():
    from flamingo.typedconfig import ConfigError
    from train.see import SeeConfig

    for make in (syn.SyntheticConfig, SeeConfig):
        with pytest.raises(ConfigError, match="min_side must not exceed max_side"):
            make(min_side=30, max_side=20)
        assert make(min_side=30, max_side=30).min_side == 30
