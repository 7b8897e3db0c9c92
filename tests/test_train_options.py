"""The trainer's performance options on the real ``tiny`` Flamingo, CPU.

Activation checkpointing must change memory, not maths (exactly equal losses and
weights); bf16 autocast must keep fp32 master weights and optimiser state and stay close
to fp32; ``torch.compile`` must match eager (slow: compiling on 2 CPU cores takes a while).
"""

import pytest
import torch
from train_helpers import tiny_config

from flamingo import lm as flamingo_lm
from train.components import build_components
from train.config import DatasetConfig
from train.data import BatchStream, ShardStream
from train.loop import train
from train.samples import SampleBuilder

pytestmark = pytest.mark.usefixtures("one_torch_thread")



class FixedBatches:
    """A stream handing out one batch every step: an overfitting run must drive its loss down."""

    def __init__(self, name: str, batch: dict):
        self.name, self.batch = name, batch

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        return dict(self.batch)

    def state(self) -> dict:
        return {}

    def load_state(self, states: list[dict]) -> bool:
        return True

    def dropped_total(self) -> dict:
        return {}


@pytest.fixture(scope="module")
def fixed_batch(shards):
    comp = build_components("tiny")
    builder = SampleBuilder(
        kind="interleaved", vocab=comp.vocab, transform=comp.transform, max_tokens=64
    )
    stream = ShardStream(
        urls=shards["interleaved"],
        builder=builder,
        make_labels=comp.make_labels,
        label_ids=comp.label_ids,
        batch_size=4,
        chunk=4,
    )
    return next(BatchStream("interleaved", stream))


def _shard_cfg(tmp, shards, **kw):
    cfg = tiny_config(tmp, shards, checkpoint__every=0, **kw)
    for ds in cfg.data.datasets:
        ds.batch_size = 2
    return cfg


def _fixed_run(tmp, shards, batch, **kw):
    """Train the tiny model on one repeated batch; returns (result, the trained model)."""
    cfg = tiny_config(tmp, shards, checkpoint__every=0, **kw)
    cfg.data.datasets = [DatasetConfig(name="interleaved", paths=shards["interleaved"])]
    comp = build_components("tiny")
    result = train(cfg, comp, streams=[FixedBatches("interleaved", batch)])
    return result, comp.model


def _trainable(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def test_activation_checkpointing_changes_memory_not_maths(tmp_path, shards, monkeypatch):
    calls = []

    def counting_checkpoint(fn, *args, **kwargs):
        calls.append(fn)
        return torch.utils.checkpoint.checkpoint(fn, *args, **kwargs)

    monkeypatch.setattr(flamingo_lm, "checkpoint", counting_checkpoint)
    plain_comp, ckpt_comp = build_components("tiny"), build_components("tiny")
    plain = train(_shard_cfg(tmp_path / "plain", shards, steps=6), plain_comp)
    assert calls == []
    checked = train(
        _shard_cfg(tmp_path / "ckpt", shards, steps=6, activation_checkpointing=True), ckpt_comp
    )
    layers = ckpt_comp.model.flamingo_layers
    assert layers and all(layer.checkpointing for layer in layers)
    assert not any(layer.checkpointing for layer in plain_comp.model.flamingo_layers)
    # every layer, every forward: 6 steps x 2 datasets
    assert len(calls) == 6 * 2 * len(layers)
    # Recomputation repeats the same fp32 CPU kernels: equal bit for bit, not just close.
    assert checked.losses == plain.losses
    a, b = _trainable(plain_comp.model), _trainable(ckpt_comp.model)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _saved_bytes(model, batch) -> int:
    """Bytes autograd keeps for backward during one forward (what checkpointing should cut)."""
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(**{k: batch[k] for k in ("input_ids", "images", "attention_mask", "labels")})
    out.loss.backward()
    return total


def test_activation_checkpointing_keeps_fewer_activations(fixed_batch):
    model = build_components("tiny").model.train()
    plain = _saved_bytes(model, fixed_batch)
    model.enable_gradient_checkpointing()
    checked = _saved_bytes(model, fixed_batch)
    assert checked < plain / 2, (checked, plain)


def test_bf16_autocast_keeps_fp32_master_weights(tmp_path, shards, fixed_batch):
    fp32, _ = _fixed_run(tmp_path / "fp32", shards, fixed_batch, steps=10, precision="fp32")
    bf16, model = _fixed_run(tmp_path / "bf16", shards, fixed_batch, steps=10, precision="bf16")
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert bf16.precision == "bf16" and fp32.precision == "fp32"
    assert trainable and all(p.dtype == torch.float32 for p in trainable)
    from safetensors.torch import load_file

    # the saved optimiser state is what resumes: AdamW moments must be fp32 too
    saved = load_file(f"{bf16.checkpoint}/optimizer.safetensors")
    moments = {k: v for k, v in saved.items() if "exp_avg" in k}
    assert len(moments) == 2 * len(trainable)
    assert all(v.dtype == torch.float32 for v in moments.values())
    assert all(torch.isfinite(torch.tensor(bf16.losses))) and bf16.skipped_steps == 0
    # one batch over and over: the loss must fall clearly (5.564 -> 5.341 measured)
    assert bf16.losses[-1] < bf16.losses[0] - 0.1 and bf16.losses[-1] == min(bf16.losses)
    # autocast really ran (bf16 rounding shows) and stayed close to fp32 (~2e-4 measured)
    assert bf16.losses != fp32.losses
    assert max(abs(a - b) for a, b in zip(bf16.losses, fp32.losses)) < 0.02


@pytest.mark.slow  # compiling cold takes ~40 s per case on 2 cores (~6 s with a warm cache)
@pytest.mark.parametrize(
    "options",
    [{}, {"precision": "bf16", "activation_checkpointing": True}],
    ids=["fp32", "bf16-checkpointed"],
)
def test_compile_matches_eager(tmp_path, shards, fixed_batch, options):
    eager, _ = _fixed_run(tmp_path / "eager", shards, fixed_batch, steps=3, **options)
    compiled, model = _fixed_run(
        tmp_path / "compiled", shards, fixed_batch, steps=3, compile=True, **options
    )
    # Flamingo.compile is regional: every (cross-attention + LM layer) block and the Perceiver
    assert all(layer.compiled_run is not None for layer in model.flamingo_layers)
    assert model.perceiver._compiled_call_impl is not None
    # inductor fuses and reorders: close, not bitwise (max gap 5e-5 measured)
    assert compiled.losses == pytest.approx(eager.losses, rel=1e-4, abs=1e-5)


def test_auto_precision_follows_the_hardware(monkeypatch):
    from train import precision as tprec

    cpu = torch.device("cpu")
    assert tprec.resolve("auto", cpu, fast_bf16=True) == "bf16"
    assert tprec.resolve("auto", cpu, fast_bf16=False) == "fp32"
    assert tprec.resolve("fp32", cpu, fast_bf16=True) == "fp32"
    assert tprec.resolve("bf16", cpu, fast_bf16=False) == "bf16"  # asked for explicitly: obeyed
    with pytest.raises(ValueError):
        tprec.resolve("fp16", cpu)
    monkeypatch.setattr(tprec, "cpu_has_fast_bf16", lambda: False)
    assert tprec.resolve("auto", cpu) == "fp32"
    monkeypatch.setattr(tprec, "cpu_has_fast_bf16", lambda: True)
    assert tprec.resolve("auto", cpu) == "bf16"


def test_auto_precision_reaches_the_loop(tmp_path, shards, fixed_batch, monkeypatch):
    from train import precision as tprec

    monkeypatch.setattr(tprec, "cpu_has_fast_bf16", lambda: False)
    fp32, _ = _fixed_run(tmp_path / "a", shards, fixed_batch, steps=2, precision="auto")
    monkeypatch.setattr(tprec, "cpu_has_fast_bf16", lambda: True)
    bf16, _ = _fixed_run(tmp_path / "b", shards, fixed_batch, steps=2, precision="auto")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert fp32.losses != bf16.losses  # the resolved precision is the one that ran
