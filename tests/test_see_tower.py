"""The learns-to-see recipe's tower pretraining (train/tower.py) and how a pretrained tower travels:
its loss falls on a tiny case, the tower is frozen afterwards, and its weights are in the saved
model (``vision.safetensors``), in the trainer's runs (``model.vision_weights``) and in what
``flamingo eval``'s loader rebuilds."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from flamingo.config import PRESETS, VisionConfig
from flamingo.factory import build_flamingo, load_flamingo
from flamingo.model import CONFIG_FILE, VISION_FILE
from flamingo.vision import build_open_clip_tower
from train.eval import synthetic as syn
from train.tower import TowerConfig, build_vocab, contrastive_loss, load_split, pretrain_tower, word_ids, zero_shot

TINY_AVG = {**PRESETS.get("tiny").vision.custom, "pool_type": "avg"}


def test_contrastive_loss_is_clips_when_every_scene_differs_and_merges_same_scene_pairs():
    g = torch.Generator().manual_seed(0)
    img, txt = (F.normalize(torch.randn(6, 8, generator=g), dim=-1) for _ in range(2))
    scale = torch.tensor(math.log(10.0))
    logits = 10.0 * img @ txt.t()
    clip = 0.5 * (F.cross_entropy(logits, torch.arange(6)) + F.cross_entropy(logits.t(), torch.arange(6)))
    assert contrastive_loss(img, txt, torch.arange(6), scale).item() == pytest.approx(clip.item(), rel=1e-6)
    # two images of one scene: either caption of that scene is right, so matching them crosswise costs nothing
    same = torch.tensor([0, 0, 1, 2, 3, 4])
    swapped = txt[[1, 0, 2, 3, 4, 5]]
    assert contrastive_loss(img, swapped, same, scale).item() == pytest.approx(
        contrastive_loss(img, txt, same, scale).item(), rel=1e-6)


def test_word_ids_pad_with_zero_and_drop_unknown_words():
    vocab = build_vocab(["two red circles", "a blue square"])
    ids = word_ids(["a red circles", "purple"], vocab)
    assert ids.tolist() == [[vocab["a"], vocab["red"], vocab["circles"]], [0, 0, 0]]


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory):
    return syn.write_benchmark(str(tmp_path_factory.mktemp("shapes")),
                               syn.SyntheticConfig(train=32, test=8, image_size=64, seed=0))


def test_pretraining_lowers_the_contrastive_loss_and_leaves_the_tower_frozen(tiny_bench):
    torch.manual_seed(0)
    visual, transform = build_open_clip_tower(VisionConfig(model_name="t", custom=TINY_AVG))
    before = {k: v.clone() for k, v in visual.state_dict().items()}
    data = load_split(tiny_bench, transform)
    assert data.images.shape == (32, 3, 32, 32) and len(data.captions[0]) == 5
    run = pretrain_tower(visual, data, TowerConfig(steps=40, batch_size=16, lr=3e-3, warmup=2))
    first, last = sum(run.losses[:5]) / 5, sum(run.losses[-5:]) / 5
    assert last < 0.8 * first, run.losses
    assert not any(p.requires_grad for p in visual.parameters()) and not visual.training
    assert any(not torch.equal(before[k], v) for k, v in visual.state_dict().items())
    names = {cs[0] for cs in data.captions}
    assert set(zero_shot(visual, run, data)) <= names


def _tower_file(tmp_path) -> tuple[str, dict]:
    """A safetensors file of tiny-tower weights unlike the seeded random init."""
    from safetensors.torch import save_file

    torch.manual_seed(123)
    visual, _ = build_open_clip_tower(PRESETS.get("tiny").vision)
    state = {k: v.contiguous() for k, v in visual.state_dict().items()}
    path = str(tmp_path / "tower.safetensors")
    save_file(state, path)
    return path, state


def test_a_pretrained_tower_is_saved_with_the_model_and_loaded_back(tmp_path):
    from train.eval.checkpoints import load_checkpoint

    path, state = _tower_file(tmp_path)
    config = PRESETS.get("tiny")
    config.vision.pretrained = path
    model, _, _ = build_flamingo(config)
    assert all(torch.equal(model.vision.visual.state_dict()[k], v) for k, v in state.items())
    assert not any(p.requires_grad for p in model.vision.parameters())  # frozen, as a random tower
    model.save_pretrained(tmp_path / "saved")
    (tmp_path / "tower.safetensors").unlink()  # the saved folder must not need the original file
    saved = json.loads((tmp_path / "saved" / CONFIG_FILE).read_text())
    assert saved["vision"]["pretrained"] == VISION_FILE and (tmp_path / "saved" / VISION_FILE).is_file()
    for loaded in (load_flamingo(tmp_path / "saved"), load_checkpoint(str(tmp_path / "saved")).model):
        assert all(torch.equal(loaded.vision.visual.state_dict()[k], v) for k, v in state.items())


def test_a_random_tower_saves_no_weights_file(tmp_path):
    model, _, _ = build_flamingo(PRESETS.get("tiny"))
    model.save_pretrained(tmp_path)
    assert not (tmp_path / VISION_FILE).exists()
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["vision"]["pretrained"] is None


def test_the_trainers_vision_weights_reach_the_model_and_its_step_checkpoints(tmp_path):
    from train.config import PRESETS as RUNS
    from train.config import ModelConfig, save
    from train.eval.checkpoints import load_checkpoint

    path, state = _tower_file(tmp_path)
    assert ModelConfig(preset="tiny", vision_weights=path).flamingo_config().vision.pretrained == path
    assert ModelConfig(preset="tiny").flamingo_config().vision.pretrained is None
    # a step checkpoint's loader rebuilds the tower from the run's config.json
    run = RUNS.get("tiny")
    run.model.vision_weights = path
    step = tmp_path / "run" / "step_00000001"
    step.mkdir(parents=True)
    save(run, tmp_path / "run" / "config.json")
    model, _, _ = build_flamingo(run.model.flamingo_config())
    from safetensors.torch import save_file

    save_file(model.trainable_state_dict(), step / "model.safetensors")
    (step / "COMPLETE").write_text(json.dumps({"step": 1}))
    loaded = load_checkpoint(str(tmp_path / "run")).model
    assert all(torch.equal(loaded.vision.visual.state_dict()[k], v) for k, v in state.items())


def test_the_recipe_pretrains_the_presets_tower_into_a_file_the_model_then_loads(tmp_path, tiny_bench):
    from train.config import ModelConfig
    from train.see import SeeConfig, pretrain_vision

    cfg = SeeConfig(tower=TowerConfig(steps=3, batch_size=8, warmup=1))
    tower = pretrain_vision(str(tmp_path), cfg, tiny_bench, "tiny")
    assert len(tower.losses) == 3 and tower.weights.endswith(VISION_FILE) and tower.zero_shot["n"] == 8
    random_tower, _, _ = build_flamingo(PRESETS.get("tiny"))
    model, _, _ = build_flamingo(ModelConfig(preset="tiny", vision_weights=tower.weights).flamingo_config())
    trained, random_ = model.vision.visual.state_dict(), random_tower.vision.visual.state_dict()
    assert any(not torch.equal(trained[k], random_[k]) for k in trained)  # trained from the preset's init
    assert model.num_trainable_parameters() == random_tower.num_trainable_parameters()  # the tower stays frozen
