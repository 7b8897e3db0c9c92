"""`flamingo eval` end to end on the tiny preset and benchmark-format fixtures: files written,
metrics recomputable from the saved predictions, identical results for a fixed seed, every task
kind, trainer checkpoints, and the trainer's eval hook."""

import json
from pathlib import Path

import eval_support as es
import pytest

from flamingo.config import PRESETS
from flamingo.factory import build_flamingo
from pipeline.cli import main as flamingo
from train.eval.metrics.cider import cider_d
from train.eval.metrics.ptb import python_tokenize

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A saved tiny Flamingo with its gates open, so images change what it writes."""
    return es.save_tiny_with_open_gates(tmp_path_factory.mktemp("tiny") / "model")


def run_eval(model, out, *args):
    code = flamingo(["eval", "--checkpoint", str(model), "--out", str(out), "--tokenizer", "python",
                     "--cache_dir", str(out.parent / "cache"), *args])
    assert code == 0
    return json.loads((out / "results.json").read_text())


def test_captioning_end_to_end_files_and_recomputable_cider(tiny_model, tmp_path, capsys):
    ann = es.karpathy(tmp_path / "bench", n_train=8, n_test=4)
    res = run_eval(tiny_model, tmp_path / "out", "--task", "coco", "--data", str(ann), "--shots", "0,2",
                   "--trials", "2", "--batch_size", "3", "--max_new_tokens", "6")
    assert res["task"] == "coco" and res["metric"] == "CIDEr" and res["num_queries"] == 4
    assert set(res["shots"]) == {"0", "2"} and all(len(s["trials"]) == 2 for s in res["shots"].values())
    assert res["prompt"]["query"] == "<image>Output:" and res["decoding"] == {"num_beams": 3, "max_new_tokens": 6}
    assert res["checkpoint"]["path"] == str(tiny_model) and res["config"]["shots"] == [0, 2]
    assert res["tokenizer"] == "python"
    assert "| 2 |" in (tmp_path / "out" / "results.md").read_text() and "CIDEr mean" in capsys.readouterr().out
    for shots in (0, 2):
        for trial in (0, 1):
            rows = [json.loads(x) for x in
                    (tmp_path / "out" / "predictions" / f"coco_{shots}shot_trial{trial}.jsonl").read_text().splitlines()]
            assert [r["key"] for r in rows] == ["8", "9", "10", "11"]
            assert all(len(r["demos"]) == 2 and r["key"] not in r["demos"] for r in rows)
            assert rows[0]["prompt"].count("<image>") == (3 if shots else 1)
            toks = python_tokenize([r["prediction"] for r in rows])
            refs = {i: python_tokenize(r["references"]) for i, r in enumerate(rows)}
            value, _ = cider_d(dict(enumerate(toks)), refs)
            assert 100 * value == pytest.approx(res["shots"][str(shots)]["trials"][trial], abs=1e-9)


def test_fixed_seed_gives_identical_results(tiny_model, tmp_path):
    ann = es.karpathy(tmp_path / "bench", n_train=8, n_test=4)
    args = ["--task", "captioning", "--data", str(ann), "--shots", "2", "--trials", "2", "--max_new_tokens", "5",
            "--num_beams", "2"]
    a = run_eval(tiny_model, tmp_path / "a", *args)
    b = run_eval(tiny_model, tmp_path / "b", *args)
    assert a["shots"] == b["shots"]
    for t in (0, 1):
        name = f"predictions/captioning_2shot_trial{t}.jsonl"
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
    # trials differ in their demonstrations
    rows = [[json.loads(x)["demos"] for x in (tmp_path / "a" / f"predictions/captioning_2shot_trial{t}.jsonl")
             .read_text().splitlines()] for t in (0, 1)]
    assert rows[0] != rows[1]


def test_vqa_end_to_end(tiny_model, tmp_path):
    q, a, imgs = es.vqa(tmp_path / "vqa", "val", 3)
    tq, ta, timgs = es.vqa(tmp_path / "vqa", "train", 5)
    res = run_eval(tiny_model, tmp_path / "out", "--task", "vqav2", "--data", str(q), "--annotations", str(a),
                   "--images", str(imgs), "--demo_data", str(tq), "--demo_annotations", str(ta),
                   "--demo_images", str(timgs), "--shots", "2", "--trials", "1")
    assert res["metric"] == "VQA accuracy" and res["decoding"]["max_new_tokens"] == 5
    rows = [json.loads(x) for x in (tmp_path / "out/predictions/vqav2_2shot_trial0.jsonl").read_text().splitlines()]
    assert "Question:What colour is it? Short answer:" in rows[0]["prompt"]
    assert res["shots"]["2"]["mean"] == pytest.approx(sum(r["score"] for r in rows) / 3)


def test_classification_and_hateful_memes(tiny_model, tmp_path):
    val = es.class_folders(tmp_path / "imnet", "val", per_class=1)
    train = es.class_folders(tmp_path / "imnet", "train", per_class=2)
    res = run_eval(tiny_model, tmp_path / "imnet-out", "--task", "imagenet", "--data", str(val),
                   "--demo_data", str(train), "--shots", "0,1", "--trials", "1")
    assert res["metric"] == "top-1 accuracy" and "top-5 accuracy" in res["shots"]["1"]["extra"]
    rows = [json.loads(x) for x in (tmp_path / "imnet-out/predictions/imagenet_1shot_trial0.jsonl").read_text()
            .splitlines()]
    assert all(set(r["scores"]) == {"blue thing", "green thing", "red thing", "yellow thing"} for r in rows)
    assert all(r["prediction"] == max(r["scores"], key=r["scores"].get) for r in rows)
    hm = es.hateful_memes(tmp_path / "hm", "dev_seen", 6)
    es.hateful_memes(tmp_path / "hm", "train", 6)
    res = run_eval(tiny_model, tmp_path / "hm-out", "--task", "hateful_memes", "--data", str(hm), "--shots", "2",
                   "--trials", "1")
    assert res["metric"] == "ROC-AUC" and 0 <= res["shots"]["2"]["mean"] <= 100
    assert "is an image with: 'words red' written on it. Is it hateful? Answer:" in \
        (tmp_path / "hm-out/predictions/hateful_memes_2shot_trial0.jsonl").read_text()


def test_rices_run_uses_and_fills_the_cache(tiny_model, tmp_path):
    ann = es.karpathy(tmp_path / "bench", n_train=8, n_test=4)
    args = ["--task", "coco", "--data", str(ann), "--shots", "2", "--trials", "1", "--demos", "rices",
            "--max_new_tokens", "3"]
    first = run_eval(tiny_model, tmp_path / "out", *args)
    cached = list((tmp_path / "cache").rglob("*.safetensors"))
    assert len(cached) == 2  # the pool's and the queries' embeddings, under one model id
    second = run_eval(tiny_model, tmp_path / "out2", *args)
    assert first["shots"] == second["shots"] and first["demos"] == "rices"


def test_usage_errors_are_one_line(tiny_model, tmp_path, capsys):
    ann = es.karpathy(tmp_path / "bench", n_train=2, n_test=2)
    assert flamingo(["eval", "--data", str(ann)]) == 2
    assert "flamingo eval: error: --checkpoint: which model?" in capsys.readouterr().err
    assert flamingo(["eval", "--checkpoint", str(tmp_path), "--data", str(ann), "--out", str(tmp_path / "o")]) == 2
    assert "holds no model" in capsys.readouterr().err
    assert flamingo(["eval", "--checkpoint", str(tiny_model), "--data", str(ann), "--shots", "4",
                     "--out", str(tmp_path / "o")]) == 2
    assert "2 demonstrations in the pool, 4 asked for" in capsys.readouterr().err
    assert flamingo(["eval", "--checkpoint", str(tiny_model), "--data", str(ann), "--task", "cocoa"]) == 2


def test_trainer_checkpoints_and_the_eval_hook(tmp_path, shards):
    """A tiny run that evaluates every 2 steps: scores in its log, predictions per evaluation, and
    its step checkpoints load in flamingo eval."""
    from train.config import PRESETS as TRAIN
    from train.config import DatasetConfig
    from train.loop import train

    ann = es.karpathy(tmp_path / "bench", n_train=6, n_test=3)
    cfg = TRAIN.get("tiny")
    cfg.steps, cfg.checkpoint.dir, cfg.checkpoint.every = 4, str(tmp_path / "run"), 2
    cfg.data.datasets = [DatasetConfig(name="pairs", paths=shards["pairs"], kind="pair", batch_size=2)]
    cfg.eval.every, cfg.eval.data, cfg.eval.task = 2, str(ann), "coco"
    cfg.eval.shots, cfg.eval.max_new_tokens, cfg.eval.tokenizer = [0, 2], 4, "python"
    train(cfg)
    log = [json.loads(x) for x in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    evals = [r for r in log if "eval/coco/2shot" in r]
    assert [r["step"] for r in evals] == [2, 4] and all("eval/coco/0shot" in r for r in evals)
    assert (tmp_path / "run/eval/step_00000004/predictions/coco_2shot_trial0.jsonl").is_file()
    res = run_eval(tmp_path / "run", tmp_path / "out", "--task", "coco", "--data", str(ann), "--shots", "2",
                   "--trials", "1", "--max_new_tokens", "4")
    assert res["checkpoint"]["step"] == 4 and res["checkpoint"]["model_preset"] == "tiny"
    # the live evaluation at step 4 and the reloaded checkpoint's agree exactly
    hook = json.loads(Path(tmp_path / "run/eval/step_00000004/results.json").read_text())
    assert res["shots"]["2"]["trials"] == pytest.approx(hook["shots"]["2"]["trials"])


class ColourOracle:
    """A stand-in model that looks at the *last* image of each row (the query's) and writes
    "a <colour> square", through the same generate() interface as Flamingo."""

    def __init__(self, tokenizer, token_ids):
        self.tokenizer, self.token_ids, self.training = tokenizer, token_ids, False

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def generate(self, ids, images, attention_mask=None, max_new_tokens=20, num_beams=1):
        import torch

        rows = []
        for row in images[:, -1, 0]:  # (C, H, W) of each query, as the tower's transform left it
            means = row.mean(dim=(1, 2))
            colour = min(es.COLOURS, key=lambda c: sum((means[i] - _normed(es.COLOURS[c], i)) ** 2 for i in range(3)))
            rows.append(self.tokenizer(f"a {colour} square", add_special_tokens=False)["input_ids"])
        width = max(len(r) for r in rows)
        new = torch.tensor([r + [self.token_ids.pad] * (width - len(r)) for r in rows])
        return torch.cat([ids, new], dim=1)


def _normed(rgb, channel):
    mean, std = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)  # open_clip's
    return (rgb[channel] / 255 - mean[channel]) / std[channel]


def test_runner_scores_what_the_images_show(tmp_path):
    """Plumbing that a constant metric cannot hide: a model that reads the query image scores high;
    with every image blanked it cannot, and each prediction lines up with its own query."""
    import torch

    from train.eval.checkpoints import eval_model
    from train.eval.config import EvalConfig
    from train.eval.runner import evaluate
    from train.eval.tasks import Paths, load_task

    _, tok, transform = build_flamingo(PRESETS.get("tiny"))
    model, _, _ = build_flamingo(PRESETS.get("tiny"))
    ann = es.karpathy(tmp_path / "bench", n_train=8, n_test=8)
    data = load_task("coco", Paths(str(ann)))
    scores = {}
    for ablation in ("none", "blank"):
        cfg = EvalConfig(task="coco", data=str(ann), shots=[2], trials=1, tokenizer="python", batch_size=3,
                         image_ablation=ablation)
        em = eval_model(model, tok, transform, device=torch.device("cpu"), ablation=ablation)
        em.model = ColourOracle(tok, model.token_ids)
        res = evaluate(cfg, em, data, out_dir=str(tmp_path / ablation))
        scores[ablation] = res["shots"]["2"]["mean"]
        rows = [json.loads(x) for x in (tmp_path / ablation / "predictions/coco_2shot_trial0.jsonl").read_text()
                .splitlines()]
        if ablation == "none":
            assert all(r["prediction"] == r["references"][0].lower().rstrip(".") for r in rows)
    assert scores["none"] > 100 and scores["blank"] < scores["none"] / 2


def test_help_summaries_are_the_modules_own():
    """`flamingo --help` repeats each subcommand's SUMMARY so it imports nothing; they must agree."""
    import importlib

    from pipeline.cli import SUBCOMMANDS

    for name, (module, summary) in SUBCOMMANDS.items():
        assert importlib.import_module(module).SUMMARY == summary, name
