"""Test fixtures for the trainer: tiny shards written with the shard-format module, and a
stand-in model with Flamingo's forward signature (used until, and beside, the real one)."""

from __future__ import annotations

import io
import json
import random
import tarfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from flamingo.tokens import make_labels  # noqa: F401 (the trainer's convention, for the tests)
from pipeline.shards import format as sf
from train.collate import Vocab, row_ids
from train.components import Components

PAD, EOS, IMAGE, EOC = 0, 1, 2, 3
WORDS = [
    "the",
    "a",
    "cat",
    "sat",
    "on",
    "mat",
    "dog",
    "ran",
    "far",
    "bird",
    "sang",
    "red",
    "blue",
    "sky",
    "sea",
]


def byte_encode(text: str) -> list[int]:
    return [b + 4 for b in text.encode("utf-8")]


VOCAB = Vocab(encode=byte_encode, image=IMAGE, end_of_chunk=EOC, pad=PAD, eos=EOS)
TOKEN_IDS = SimpleNamespace(image=IMAGE, end_of_chunk=EOC, pad=PAD, eos=EOS)


def transform(im: Image.Image) -> torch.Tensor:
    arr = np.asarray(im.resize((8, 8)), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()  # (C, H, W)


def photos(n: int = 3, size: int = 24) -> list[bytes]:
    from skimage import data

    out = []
    for arr in (data.astronaut(), data.coffee(), data.chelsea())[:n]:
        buf = io.BytesIO()
        Image.fromarray(arr).resize((size, size)).save(buf, format="JPEG", quality=80)
        out.append(buf.getvalue())
    return out


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)) + ". "


def interleaved_sample(
    key_parts, rng: random.Random, pics: list[bytes], n_images: int, words: int = 2, vocab: Vocab | None = None
) -> sf.InterleavedSample:
    """A sequence of ``n_images`` images, each after a text of ``words`` words. With ``vocab``
    it is counted as the corpus job counts (``tokenizer`` and ``num_tokens`` exact for it)."""
    segments, images = [sf.TextSegment(_text(rng, words))], []
    for i in range(n_images):
        data = rng.choice(pics)
        images.append(
            sf.ImageRef(
                url=f"http://x/{i}.jpg", sha256=sf.sha256_hex(data), width=24, height=24, data=data
            )
        )
        segments += [sf.ImageSlot(i), sf.TextSegment(_text(rng, words))]
    key = sf.make_key(*key_parts)
    counted = vocab or VOCAB
    return sf.InterleavedSample(
        key=key,
        url="http://x/doc",
        doc_id=key,
        seq_index=0,
        num_tokens=len(row_ids(segments, counted)),
        tokenizer=counted.tokenizer_id or "bytes",  # no fingerprint: the loader cannot check it
        segments=segments,
        images=images,
    )


def pair_sample(key_parts, rng: random.Random, pics: list[bytes]) -> sf.PairSample:
    data = rng.choice(pics)
    return sf.PairSample(
        key=sf.make_key(*key_parts),
        url="http://x/p.jpg",
        caption=_text(rng, 4),
        image=data,
        width=24,
        height=24,
        sha256=sf.sha256_hex(data),
    )


def write_tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_shards(
    root: Path, kind: str, n_shards: int = 2, per_shard: int = 8, seed: int = 0, vocab: Vocab | None = None
) -> list[str]:
    rng, pics = random.Random(seed), photos()
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in range(n_shards):
        members = []
        for i in range(per_shard):
            parts = (kind, s, i)
            sample = (
                interleaved_sample(parts, rng, pics, 1 + i % 3, vocab=vocab)
                if kind == "interleaved"
                else pair_sample(parts, rng, pics)
            )
            members += sf.encode(sample)
        paths.append(str(write_tar(root / f"{kind}-{s:05d}.tar", members)))
    return paths


def write_img2dataset_shard(path: Path, n: int = 4) -> Path:
    """img2dataset's layout, written by hand: KEY.jpg, KEY.txt, KEY.json (no schema_version)."""
    pics, members = photos(), []
    for i in range(n):
        key = f"{i:09d}"
        meta = {
            "url": f"http://x/{i}.jpg",
            "caption": f"photo number {i}",
            "key": key,
            "status": "success",
            "error_message": None,
            "width": 24,
            "height": 24,
            "original_width": 512,
            "original_height": 512,
            "exif": "{}",
            "sha256": sf.sha256_hex(pics[i % 3]),
        }
        members += [
            (f"{key}.jpg", pics[i % 3]),
            (f"{key}.txt", f"photo number {i}".encode()),
            (f"{key}.json", json.dumps(meta).encode()),
        ]
    return write_tar(path, members)


class StandInFlamingo(nn.Module):
    """Frozen 'LM' (embedding + head) and 'vision' tower; trainable perceiver and gated xattn.

    Same forward signature as flamingo's model. A text token sees the latest image before it.
    """

    def __init__(self, vocab_size: int = 264, dim: int = 32):
        super().__init__()
        self.token_ids = TOKEN_IDS
        self.embed = nn.Embedding(vocab_size, dim)
        self.vision = nn.Linear(3 * 8 * 8, dim)
        self.perceiver = nn.Linear(dim, dim)
        self.xattn = nn.Linear(dim, dim)
        self.gate = nn.Parameter(torch.tensor([0.5]))
        self.head = nn.Linear(dim, vocab_size)
        for m in (self.embed, self.vision, self.head):
            m.requires_grad_(False)

    def forward(self, input_ids, images, attention_mask=None, labels=None):
        h = self.embed(input_ids)  # (B, L, D)
        B, T = images.shape[:2]
        feats = self.perceiver(self.vision(images.reshape(B, T, -1)))  # (B, T_img, D)
        # k-th <image> token uses images[:, k]; tokens before any image see nothing.
        idx = (input_ids == self.token_ids.image).cumsum(1)  # (B, L)
        seen = feats.gather(1, (idx - 1).clamp(min=0).unsqueeze(-1).expand(-1, -1, feats.shape[-1]))
        h = h + torch.tanh(self.gate) * self.xattn(seen) * (idx > 0).unsqueeze(-1)
        logits = self.head(torch.tanh(h))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(
                logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100
            )
        return SimpleNamespace(loss=loss, logits=logits)


def tiny_vocab() -> Vocab:
    """The tiny preset's Vocab (byte tokenizer with the special tokens), without building the model:
    shards counted with it carry the fingerprint the trainer checks."""
    from flamingo.tokens import add_special_tokens, build_byte_tokenizer
    from train.components import make_vocab

    tok = build_byte_tokenizer()
    return make_vocab(tok, add_special_tokens(tok), "bytes")


def stand_in_components(seed: int = 0) -> Components:
    torch.manual_seed(seed)
    return Components(StandInFlamingo(), VOCAB, transform, make_labels, TOKEN_IDS)


def tiny_config(tmp: Path, shards: dict[str, list[str]], **overrides):
    from train.config import PRESETS, DatasetConfig

    cfg = PRESETS.get("tiny")
    cfg.data.datasets = [
        DatasetConfig(
            name="interleaved",
            paths=shards["interleaved"],
            kind="interleaved",
            weight=1.0,
            batch_size=2,
        ),
        DatasetConfig(name="pairs", paths=shards["pairs"], kind="pair", weight=0.2, batch_size=4),
    ]
    cfg.checkpoint.dir = str(tmp / "ckpt")
    cfg.device = "cpu"
    for k, v in overrides.items():
        section, _, name = k.rpartition("__")
        setattr(getattr(cfg, section) if section else cfg, name, v)
    return cfg
