"""The corpus job's token counts are exactly what the trainer feeds (item 2 of the trainer issue):
SequencesFn counts with SmolLM2's tokenizer as the pipeline loads it (cached from the GGUF), the
trainer tokenises with the demo LM's tokenizer as the model factory loads it (from the GGUF), and
the two agree on the fingerprint and on every sequence's length."""

import random

import pytest

from pipeline.shards import format as sf


@pytest.fixture(scope="module")
def sequences_fn(counting_tokenizer):
    from unittest import mock

    from pipeline.beam.sequences import SequencesFn

    fn = SequencesFn(None, max_tokens=64, max_images=5)  # the default counting tokenizer: SmolLM2's
    # setup() as it runs on a worker, with the session's already loaded copy of that tokenizer
    with mock.patch("pipeline.sequences.tokenizer.load_counting_tokenizer", lambda name: counting_tokenizer):
        fn.setup()
    return fn


@pytest.fixture(scope="module")
def records(sequences_fn):
    fn = sequences_fn
    rng = random.Random(0)
    words = "the heron stood in shallow water waiting for a fish to pass by".split()
    nodes = ["An intro about birds."]
    for i in range(6):
        nodes += [sf.ImageRef(f"https://ex.com/{i}.jpg", f"sha{i}", 64, 64),
                  " ".join(rng.choice(words) for _ in range(rng.randint(3, 60))) + "."]
    return [rec for _, rec in fn.process(("doc", "https://ex.com/", nodes))]


def trainer_vocab(tok, name):
    from flamingo.tokens import add_special_tokens
    from train.components import make_vocab

    return make_vocab(tok, add_special_tokens(tok), name)  # adds <pad> too, as the model factory does


@pytest.fixture(scope="module")
def same_tokenizer_vocab():
    """The trainer's side on the same tokenizer files, read by transformers as the trainer reads
    a tokenizer (fast: the shipped tokenizer.json, not the GGUF)."""
    from transformers import AutoTokenizer

    from pipeline.sequences import tokenizer as tk

    return trainer_vocab(AutoTokenizer.from_pretrained(tk.DEFAULT_DIR), "SmolLM2-135M-Instruct")


@pytest.mark.parametrize("vocab", ["same_tokenizer_vocab", pytest.param("demo_vocab", marks=pytest.mark.slow)])
def test_counts_equal_the_trainers_rows_and_fit(records, vocab, request):
    """Default: the trainer's rule on the pipeline's tokenizer. Slow (reads the GGUF, ~10-25 s):
    the demo model's tokenizer exactly as the factory loads it."""
    from train.collate import attach_images, counted_alike, row_ids

    demo_vocab = request.getfixturevalue(vocab)

    assert len(records) >= 3
    for rec in records:
        sample = sf.InterleavedSample(key="k", url=rec["url"], doc_id="d", seq_index=rec["seq_index"],
                                      num_tokens=rec["num_tokens"], tokenizer=rec["tokenizer"],
                                      segments=rec["segments"], images=rec["images"])
        assert counted_alike(sample, demo_vocab)  # same fingerprint: the trainer checks the count
        for placement in ("next", "previous"):  # the image-placement augmentation keeps the length
            ids = row_ids(attach_images(sample.segments, placement), demo_vocab)
            assert len(ids) == rec["num_tokens"] <= 64
            assert ids[-1] == demo_vocab.eos and (demo_vocab.bos is None or ids[0] == demo_vocab.bos)
    assert max(rec["num_tokens"] for rec in records) >= 60  # cut up to the budget, BOS/EOS included


@pytest.fixture(scope="module")
def demo_vocab():
    from flamingo.config import PRESETS
    from flamingo.lm import load_tokenizer

    lm = PRESETS.get("demo").lm
    return trainer_vocab(load_tokenizer(lm), lm.name_or_path)
