"""The mixture step's gradient is Σ_micro Σ_d w_d ∇loss_d / grad_accum, computed by hand here."""

from types import SimpleNamespace

import torch
from torch import nn

from train import optim as topt
from train.config import ScheduleConfig
from train.mixture import Source, accumulate


class Linear(nn.Module):
    """loss = mean((x·w - y)^2) with the model's forward signature (images unused)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([0.5, -1.0, 2.0]))

    def forward(self, input_ids, images, attention_mask=None, labels=None):
        pred = input_ids.float() @ self.w
        return SimpleNamespace(loss=((pred - labels.float()) ** 2).mean(), logits=pred)


def batches(seed):
    g = torch.Generator().manual_seed(seed)
    while True:
        x = torch.randint(0, 5, (4, 3), generator=g)
        yield {
            "input_ids": x,
            "labels": torch.randint(0, 5, (4,), generator=g),
            "images": None,
            "attention_mask": torch.ones(4, 3, dtype=torch.long),
        }


def test_weighted_accumulated_gradient_matches_hand_sum():
    weights, accum = {"a": 1.0, "b": 0.2, "c": 0.5}, 3
    model = Linear()
    sources = [Source(n, w, batches(i)) for i, (n, w) in enumerate(weights.items())]
    stats = accumulate(model, sources, accum, torch.device("cpu"))

    # By hand: the same batches, analytic gradient of each MSE loss.
    want = torch.zeros(3)
    streams = {n: batches(i) for i, n in enumerate(weights)}
    losses = {n: 0.0 for n in weights}
    for _ in range(accum):
        for n, w in weights.items():
            b = next(streams[n])
            x, y = b["input_ids"].float(), b["labels"].float()
            r = x @ model.w.detach() - y
            want += w * (2 * x.T @ r / len(y)) / accum
            losses[n] += float((r**2).mean()) / accum
    torch.testing.assert_close(model.w.grad, want)
    for n in weights:
        assert abs(stats.losses[n] - losses[n]) < 1e-5
    assert stats.samples == 4 * 3 * accum and stats.tokens == 12 * 3 * accum and stats.finite_loss


def test_non_finite_loss_is_flagged():
    model = Linear()

    def nan_batches():
        for b in batches(0):
            b["labels"] = b["labels"].float() * float("nan")
            yield b

    stats = accumulate(model, [Source("a", 1.0, nan_batches())], 1, torch.device("cpu"))
    assert not stats.finite_loss


def test_schedule_warmup_then_constant_linear_cosine():
    cfg = ScheduleConfig(kind="constant", warmup_steps=4)
    assert [topt.lr_at(s, 10, 1.0, cfg) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    lin = ScheduleConfig(kind="linear", warmup_steps=0, min_lr_ratio=0.1)
    assert topt.lr_at(0, 10, 1.0, lin) == 1.0 and abs(topt.lr_at(10, 10, 1.0, lin) - 0.1) < 1e-12
    cos = ScheduleConfig(kind="cosine", warmup_steps=0)
    assert abs(topt.lr_at(5, 10, 1.0, cos) - 0.5) < 1e-12


def test_param_groups_fallback_decays_matrices_only():
    m = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3))
    groups = topt.param_groups(m, 0.1)
    assert sum(p.numel() for p in groups[0]["params"]) == 9 and groups[1]["weight_decay"] == 0.0
