"""CLIP-score filtering with a tiny random open_clip model loaded from a local checkpoint."""

import math

import pytest
import torch
from pairs_support import ROWS, PhotoServer, photos, tiny_clip, write_url_list

from pipeline.filter.clip import ClipScorer, select, top_fraction_threshold
from pipeline.jobs import pairs
from pipeline.shards import reader


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return tiny_clip(tmp_path_factory.mktemp("clip"))


def direct_scores(name, ckpt, images, captions):
    """The same cosine similarity computed straight from open_clip."""
    import io

    import open_clip
    from PIL import Image

    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=ckpt)
    model.eval()
    tok = open_clip.get_tokenizer(name)
    with torch.no_grad():
        x = torch.stack([preprocess(Image.open(io.BytesIO(b)).convert("RGB")) for b in images])
        img = torch.nn.functional.normalize(model.encode_image(x), dim=-1)
        txt = torch.nn.functional.normalize(model.encode_text(tok(captions)), dim=-1)
    return [float(img[i] @ txt[i]) for i in range(len(images))]


def test_scores_equal_a_direct_open_clip_computation(clip):
    name, config, ckpt = clip
    images, captions = photos(), [c for _, c, _ in ROWS[:4]]
    scorer = ClipScorer(name, ckpt, model_config=config, batch_size=3)  # two batches
    got = scorer.score(images, captions)
    want = direct_scores(name, ckpt, images, captions)
    assert got == pytest.approx(want, abs=1e-5)
    assert len(set(round(s, 6) for s in got)) == 4  # a real spread, not a constant


def test_select_keeps_what_it_claims():
    scores = [0.1, 0.5, 0.3, 0.9, 0.7, 0.2, 0.4]
    assert select(scores, threshold=0.4) == [s >= 0.4 for s in scores]
    kept = select(scores, top_fraction=0.3)  # ceil(0.3 * 7) = 3 best
    assert sorted(s for s, k in zip(scores, kept) if k) == [0.5, 0.7, 0.9]
    assert sum(select(scores, top_fraction=1.0)) == 7
    assert top_fraction_threshold([], 0.5) == math.inf
    both = select(scores, threshold=0.6, top_fraction=0.5)  # top 4 are >= 0.4; threshold narrows
    assert sorted(s for s, k in zip(scores, both) if k) == [0.7, 0.9]


@pytest.fixture(scope="module")
def server():
    with PhotoServer() as s:
        yield s


def run_job(tmp_path, server, clip, *flags):
    name, config, ckpt = clip
    tmp_path.mkdir(parents=True, exist_ok=True)
    write_url_list(tmp_path / "list.parquet", server)
    out = str(tmp_path / "out")
    stats = pairs.run(["--input", str(tmp_path / "list.parquet"), "--output", out, "--runner", "FnApiRunner",
                       "--image.allow_private_networks", "true", "--clip.model", name, "--clip.pretrained", ckpt,
                       "--clip.model_config", config, "--clip.batch_size", "2", *flags])
    return list(reader.iter_samples(sorted(str(p) for p in (tmp_path / "out").glob("*.tar")))), stats


def test_job_scores_every_pair_like_open_clip(tmp_path, server, clip):
    samples, stats = run_job(tmp_path, server, clip)
    assert len(samples) == 4 and stats["counters"]["clip"]["scored"] == 4
    name, _, ckpt = clip
    want = direct_scores(name, ckpt, [s.image for s in samples], [s.caption for s in samples])
    assert [s.extra["clip_score"] for s in samples] == pytest.approx(want, abs=1e-5)
    import pyarrow.parquet as pq

    col = pq.read_table(str(tmp_path / "out" / "00000.parquet")).column("clip_score").to_pylist()
    assert sorted(col) == pytest.approx(sorted(s.extra["clip_score"] for s in samples))


def test_job_top_fraction_and_threshold(tmp_path, server, clip):
    all_scores = sorted((s.extra["clip_score"] for s in run_job(tmp_path / "all", server, clip)[0]), reverse=True)
    top, stats = run_job(tmp_path / "top", server, clip, "--clip.top_fraction", "0.5")
    assert sorted((s.extra["clip_score"] for s in top), reverse=True) == pytest.approx(all_scores[:2])
    assert stats["counters"]["pairs"]["clip_score_not_top_fraction"] == 2
    cut = (all_scores[0] + all_scores[1]) / 2  # between the best and the second best
    best, stats = run_job(tmp_path / "thr", server, clip, "--clip.threshold", repr(cut))
    assert [s.extra["clip_score"] for s in best] == pytest.approx(all_scores[:1])
    assert stats["counters"]["pairs"]["clip_score_below_threshold"] == 3
