"""Text filters: each rule on a passing and a failing hand-written text, with its reason."""

import dataclasses

import pytest

from pipeline.filter import gopher
from pipeline.filter.rules import KEPT, Filter, RuleContext, Subject
from pipeline.filter.text import (
    TextFilterConfig,
    flagged_words_filter,
    gopher_quality_filter,
    gopher_repetition_filter,
    language_filter,
    load_flagged_words,
    primary_language,
    word_count_filter,
)

CFG = TextFilterConfig()

# A plain English page: varied sentences, two paragraphs, no repetition.
GOOD = (
    "The history of the town goes back to the twelfth century, when a small group of farmers "
    "settled on the banks of the river. Over the following centuries the settlement grew into "
    "a market town with a church, a mill and a bridge that connected it to the road to the "
    "capital.\n\n"
    "Today the town is known for its annual fair, which brings visitors from all over the "
    "region. The old mill has been turned into a museum that tells the story of the people who "
    "lived and worked here, and the bridge is still used by walkers and cyclists every day."
)
FRENCH = (
    "L'histoire de la ville remonte au douzième siècle, lorsqu'un petit groupe de paysans "
    "s'installa sur les rives du fleuve. Au fil des siècles, le village devint un bourg avec "
    "une église, un moulin et un pont qui le reliait à la route de la capitale."
)
GERMAN = (
    "Die Geschichte der Stadt reicht bis ins zwölfte Jahrhundert zurück, als sich eine kleine "
    "Gruppe von Bauern am Ufer des Flusses niederließ. Im Laufe der Jahrhunderte wuchs die "
    "Siedlung zu einer Marktstadt mit einer Kirche, einer Mühle und einer Brücke."
)


class TextRules:
    """The registered text rules of a config, checked on plain strings."""

    def __init__(self, config: TextFilterConfig = CFG) -> None:
        self.filter = Filter("text", config)

    def check(self, text: str, declared_lang: str | None = None):
        return self.filter.check(Subject(text, declared_lang))


@pytest.fixture(scope="module")
def text_filter():
    return TextRules()


def test_good_english_page_is_kept_by_every_rule(text_filter):
    assert word_count_filter(GOOD, CFG) == KEPT
    assert gopher_quality_filter(GOOD, CFG) == KEPT
    assert gopher_repetition_filter(GOOD, CFG) == KEPT
    assert flagged_words_filter(GOOD, load_flagged_words(), CFG) == KEPT
    assert text_filter.check(GOOD) == (True, "kept")


def test_word_count_bounds():
    assert word_count_filter("too short to keep", CFG) == (False, "too_few_words")
    assert word_count_filter("word " * 2001, CFG) == (False, "too_many_words")
    assert word_count_filter("word " * 2000, CFG) == KEPT
    assert word_count_filter("word " * 10, CFG) == KEPT


@pytest.mark.parametrize(("text", "expected"), [(GOOD, "en"), (FRENCH, "fr"), (GERMAN, "de")])
def test_language_detection(text_filter, text, expected):
    lang, score = RuleContext(CFG).detect(text)
    assert lang == expected and score > 0.9


def test_language_filter_keeps_configured_languages(text_filter):
    assert text_filter.check(FRENCH) == (False, "language_not_allowed")
    assert text_filter.check(GERMAN) == (False, "language_not_allowed")
    fr = TextRules(TextFilterConfig(languages=("fr", "de")))
    # Gopher quality and flagged words are English-only: French passes them untested.
    assert fr.check(FRENCH) == KEPT and fr.check(GERMAN) == KEPT
    assert fr.check(GOOD) == (False, "language_not_allowed")
    assert TextRules(TextFilterConfig(languages=())).check(FRENCH) == KEPT


def test_low_confidence_is_rescued_only_by_a_matching_declared_language():
    assert language_filter("en", 0.5, CFG) == (False, "language_low_confidence")
    assert language_filter("en", 0.5, CFG, declared_lang="en-GB") == KEPT
    assert language_filter("en", 0.5, CFG, declared_lang="fr") == (False, "language_low_confidence")
    assert language_filter("fr", 0.99, CFG, declared_lang="en") == (False, "language_not_allowed")
    assert primary_language(" EN_us ") == "en" and primary_language("") is None


def _cfg(**kw):
    return dataclasses.replace(CFG, **kw)


@pytest.mark.parametrize(
    ("bad_text", "reason"),
    [
        # mean word length: long chemical-ish tokens, and one-letter tokens
        ("the and " + "pseudopseudohypoparathyroidism " * 10, "gopher_mean_word_length"),
        ("the and to of " + "a b c d e f g h i j " * 3, "gopher_mean_word_length"),
        ("#tag the and of the river " * 4, "gopher_symbol_word_ratio"),
        ("the river and the town... " * 4, "gopher_symbol_word_ratio"),
        (
            "\n".join(f"• item number {i} of the list and more" for i in range(10)),
            "gopher_bullet_lines",
        ),
        (
            "\n".join(
                f"Read the full story of item {i} about the old bridge and then…" for i in range(10)
            ),
            "gopher_ellipsis_lines",
        ),
        ("the and of " + "1234 5678 9012 3456 " * 5 + "river town", "gopher_alpha_words"),
        (
            "Buy cheap phones online today, free shipping, best prices guaranteed here.",
            "gopher_stop_words",
        ),
    ],
)
def test_gopher_quality_rules(bad_text, reason):
    assert gopher_quality_filter(bad_text, CFG) == (False, reason)


def test_gopher_quality_thresholds_are_configurable():
    text = "#tag the and of the river " * 4
    assert gopher_quality_filter(text, _cfg(max_symbol_word_ratio=0.5)) == KEPT


def test_bullets_below_the_limit_pass():
    mixed = GOOD + "\n" + "\n".join(f"• point {i} of the plan" for i in range(3))
    assert gopher_quality_filter(mixed, CFG) == KEPT


def test_gopher_repetition_rules():
    # An exact line repeated: line fraction fails before anything else.
    assert gopher_repetition_filter("Sign in to continue reading the story\n" * 5 + GOOD, CFG) == (
        False,
        "gopher_dup_line_fraction",
    )
    # Few duplicate lines but long ones: the char fraction catches it.
    long_line = "This paragraph about the bridge and the river is copied verbatim " * 3
    text = (
        GOOD.replace("\n\n", "\n")
        + "\n"
        + "\n".join([long_line, "one", "two", "three", "four", "five", "six", long_line])
    )
    assert gopher_repetition_filter(text, CFG) == (False, "gopher_dup_line_chars")
    # One bigram everywhere, no duplicate lines.
    spam = " ".join(f"cheap watches {w}" for w in GOOD.split()[:40])
    assert gopher_repetition_filter(spam, CFG) == (False, "gopher_top_2gram")
    # A long repeated passage inside a single line.
    passage = " ".join(GOOD.split()[:30])
    assert gopher_repetition_filter(f"{passage} {GOOD.split()[-1]} {passage}", CFG)[1].startswith(
        "gopher_"
    )


def test_repetition_measures_on_hand_computed_examples():
    assert gopher.duplicate_fractions(["a", "bb", "a", "a"]) == (0.5, 2 / 5)
    words = ["x", "y", "z", "x", "y", "z"]
    assert gopher.top_ngram_char_fraction(words, 3) == pytest.approx(1.0)
    assert gopher.top_ngram_char_fraction(["a", "b", "c", "d"], 2) == 0.0
    # "x y z" repeats once: the second copy (3 of 6 word chars) is duplicate.
    assert gopher.duplicate_ngram_char_fraction(words, 3) == pytest.approx(0.5)
    assert gopher.paragraphs_of("a\nb\n\n\nc\n") == ["a\nb", "c"]


def test_flagged_words_with_shipped_and_replaced_lists(tmp_path, text_filter):
    porn = GOOD + " porn xxx hardcore"
    assert text_filter.check(porn) == (False, "flagged_words")
    own = tmp_path / "words.txt"
    own.write_text("# my list\nMill\nbridge  # comment\n\n", encoding="utf-8")
    assert load_flagged_words(str(own)) == frozenset({"mill", "bridge"})
    mine = TextRules(TextFilterConfig(flagged_words_path=str(own)))
    assert mine.check(porn) == (False, "flagged_words")  # mill ×2, bridge ×2 of ~90 words
    assert mine.check(porn.replace("mill", "barn").replace("bridge", "ford")) == KEPT
    lenient = TextRules(TextFilterConfig(max_flagged_words_ratio=0.05))
    assert lenient.check(porn) == KEPT


def test_filters_run_in_configured_order_and_can_be_disabled(text_filter):
    assert text_filter.check("Le chat.") == (False, "too_few_words")
    only_lang = TextRules(TextFilterConfig(filters=("language",)))
    assert only_lang.check("Le chat est sur la table de la cuisine.") == (
        False,
        "language_not_allowed",
    )
    with pytest.raises(ValueError, match="unknown text rule"):
        TextFilterConfig(filters=("language", "vibes"))


def test_shipped_list_loads_from_package_data():
    words = load_flagged_words()
    assert "porn" in words and all(w == w.lower() and " " not in w for w in words)
