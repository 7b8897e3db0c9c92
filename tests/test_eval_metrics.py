"""Metrics against their references: CIDEr-D vs pycocoevalcap, VQA accuracy vs the official
evaluation, ROC-AUC vs a direct count, the PTB tokenisation vs the Stanford jar."""

import math
import random
import shutil

import pytest
from pycocoevalcap.cider.cider import Cider

from train.eval.metrics import ptb
from train.eval.metrics.cider import cider_d
from train.eval.metrics.ranking import roc_auc
from train.eval.metrics.vqa import normalize_digits_articles, normalize_punctuation, postprocess_answer, vqa_accuracy

# ------------------------------------------------------------------------------------------ CIDEr

REFERENCE_FIRST_CASE = 2.110323658287799  # pycocoevalcap 1.2, Cider().compute_score on HAND_MADE[0]


def reference_cider(cands: dict, refs: dict) -> tuple[float, list[float]]:
    score, per = Cider().compute_score({k: list(v) for k, v in refs.items()}, {k: [v] for k, v in cands.items()})
    return float(score), [float(x) for x in per]


HAND_MADE = [
    # (candidates, references): already tokenised, as pycocoevalcap receives them after PTB
    ({1: "a man riding a horse", 2: "two dogs playing in the park"},
     {1: ["a man rides a horse", "a person on a brown horse", "man riding horse on a beach"],
      2: ["two dogs play in a park", "dogs running on grass", "two puppies playing together in the park"]}),
    ({"a": "a cat", "b": "a cat", "c": "a cat"},  # the same candidate everywhere: idf does the work
     {"a": ["a cat on a mat", "a cat"], "b": ["a dog"], "c": ["a cat sitting", "one cat", "the cat is there"]}),
    ({1: "", 2: "red red red red"},  # an empty candidate and repeated words (clipping)
     {1: ["a red bus"], 2: ["red", "a red car"]}),
    ({1: "exactly the same words here", 2: "short"},
     {1: ["exactly the same words here"], 2: ["a much longer reference sentence with many more words in it"]}),
]


@pytest.mark.parametrize("cands,refs", HAND_MADE)
def test_cider_d_equals_pycocoevalcap_on_hand_made_cases(cands, refs):
    ours, per = cider_d(cands, refs)
    theirs, their_per = reference_cider(cands, refs)
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-12)
    assert [per[k] for k in cands] == pytest.approx(their_per, rel=1e-12, abs=1e-12)


def test_cider_d_equals_pycocoevalcap_on_a_random_corpus():
    rng = random.Random(0)
    words = "a the man woman dog cat red blue sits runs on in park street two three big small".split()

    def sentence():
        return " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))

    cands = {i: sentence() for i in range(200)}
    refs = {i: [sentence() for _ in range(rng.randint(1, 6))] for i in range(200)}
    ours, per = cider_d(cands, refs)
    theirs, their_per = reference_cider(cands, refs)
    assert ours == pytest.approx(theirs, rel=1e-12)
    assert [per[i] for i in range(200)] == pytest.approx(their_per, rel=1e-12, abs=1e-12)
    assert 0 < ours < 10


def test_cider_d_reference_value():
    """A stored value (pycocoevalcap 1.2 on the first hand-made case), so a change in either shows."""
    ours, _ = cider_d(*HAND_MADE[0])
    assert ours == pytest.approx(REFERENCE_FIRST_CASE, rel=1e-12)


def test_cider_d_refuses_mismatched_inputs():
    with pytest.raises(ValueError):
        cider_d({1: "a"}, {2: ["a"]})
    with pytest.raises(ValueError):
        cider_d({1: "a"}, {1: []})


# ------------------------------------------------------------------------------------------- PTB

# Captions and their tokenisation by pycocoevalcap's PTBTokenizer (stanford-corenlp-3.4.1, -lowerCase,
# punctuation removed), recorded from the jar; the Python port must give the same.
PTB_CASES = [
    ("A man riding a horse.", "a man riding a horse"),
    ("Two dogs playing with a frisbee in the park!", "two dogs playing with a frisbee in the park"),
    ("A black-and-white photo of a cat, sitting on a sofa.", "a black-and-white photo of a cat sitting on a sofa"),
    ("The man's dog isn't happy; it can't run.", "the man 's dog is n't happy it ca n't run"),
    ("She said \"hello\" to the (very) tall man...", "she said hello to the -lrb- very -rrb- tall man"),
    ("A 3.5 inch screen costs $100, or 1,000 yen?", "a 3.5 inch screen costs $ 100 or 1,000 yen"),
    ("Mr. Smith and Dr. Jones at 5 p.m. in the U.S.", "mr. smith and dr. jones at 5 p.m. in the u.s."),
    ("A group of people -- standing around -- talking.", "a group of people standing around talking"),
    ("Kids' toys and the dogs' bowls 'n' stuff", "kids toys and the dogs bowls 'n' stuff"),
    ("Rock 'n' roll at 10:30 on 12/25/2020 with 50% off", "rock 'n' roll at 10:30 on 12/25/2020 with 50 % off"),
    ("I'm gonna wanna gotta; we'll they've you'd I'd", "i 'm gon na wan na got ta we 'll they 've you 'd i 'd"),
    ("Cannot won't shan't ain't", "can not wo n't sha n't ai n't"),
    ("A plate of food [with] {curly} braces & stuff", "a plate of food -lsb- with -rsb- -lcb- curly -rcb- braces & stuff"),
    ("an e-mail address like foo@bar.com and http://example.com/x?y=1", "an e-mail address like foo@bar.com and http://example.com/x?y=1"),
    ("A \"quoted\" `word' and 'single quoted' phrase", "a quoted word and single quoted phrase"),
    ("  Leading and trailing spaces  ", "leading and trailing spaces"),
    ("UPPER CASE WORDS and MiXeD case", "upper case words and mixed case"),
    ("Three cats... sitting--on a mat", "three cats sitting on a mat"),
    ("a tennis player swinging a racket at a ball", "a tennis player swinging a racket at a ball"),
    ("A #1 fan with a 2x4 board, 3rd place, 1990s style", "a # 1 fan with a 2x4 board 3rd place 1990s style"),
    ("o'clock o'neill y'all d'you", "o'clock o'neill y' all d'you"),
    ("a bus that is driving down a road.", "a bus that is driving down a road"),
    ("It's 5 o'clock; there's nothing.", "it 's 5 o'clock there 's nothing"),
    ("Here's a cat with 2 kittens , sitting .", "here 's a cat with 2 kittens sitting"),
    ("A plane flying over a city at night .", "a plane flying over a city at night"),
    ("hello!!! what?? yes!?", "hello !!! what ?? yes !?"),
    ("the cat / dog hybrid * stars * and + plus = equals", "the cat / dog hybrid * stars * and + plus = equals"),
    ("a word with ellipsis… and em—dash and “curly quotes” and ‘single’", "a word with ellipsis and em dash and curly quotes and single"),
]


@pytest.mark.parametrize("caption,expected", PTB_CASES)
def test_python_ptb_tokenisation_matches_the_jar_output(caption, expected):
    assert ptb.python_tokenize([caption]) == [expected]


@pytest.mark.skipif(shutil.which("java") is None, reason="Java is not installed (a system package)")
def test_the_jar_still_gives_the_recorded_tokens():
    """pycocoevalcap (a test extra) ships the jar; with Java present both back-ends must agree."""
    captions = [c for c, _ in PTB_CASES]
    tokens, used = ptb.tokenize(captions, "java")
    assert used == "java"
    assert tokens == [t for _, t in PTB_CASES]
    assert ptb.tokenize(captions, "python") == (tokens, "python")


def test_tokenize_auto_falls_back_to_python_without_java(monkeypatch):
    monkeypatch.setattr(ptb.shutil, "which", lambda name: None)
    assert ptb.tokenize(["A dog."], "auto") == (["a dog"], "python")
    with pytest.raises(RuntimeError):
        ptb.tokenize(["A dog."], "java")


# ------------------------------------------------------------------------------------------- VQA

# (what it checks, prediction, human answers, accuracy): the accuracies were computed with the
# official evaluation (VQA v2's vqaEval.py as OpenFlamingo ships it) on these very inputs.
VQA_CASES = [
    ("unanimous exact", "yes", ["yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes"], 1.0),
    ("unanimous: no normalisation, '2' vs 'two' scores 0", "2", ["two", "two", "two", "two", "two", "two", "two", "two", "two", "two"], 0.0),
    ("unanimous: case is not folded", "Yes", ["yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes"], 0.0),
    ("one human agrees", "red", ["red", "blue", "blue", "blue", "blue", "blue", "blue", "blue", "blue", "blue"], 0.3),
    ("two humans agree", "red", ["red", "red", "blue", "blue", "blue", "blue", "blue", "blue", "blue", "blue"], 0.6),
    ("three humans agree", "red", ["red", "red", "red", "blue", "blue", "blue", "blue", "blue", "blue", "blue"], 0.9),
    ("four humans agree", "red", ["red", "red", "red", "red", "blue", "blue", "blue", "blue", "blue", "blue"], 1.0),
    ("number words to digits", "two", ["2", "2", "2", "2", "two", "two", "3", "3", "3", "3"], 1.0),
    ("articles dropped", "the dog", ["dog", "dog", "a dog", "cat", "cat", "cat", "cat", "cat", "cat", "cat"], 0.9),
    ("case folded when humans differ", "Yes", ["yes", "yes", "no", "no", "no", "no", "no", "no", "no", "no"], 0.6),
    ("punctuation next to a space is deleted", "hot dog !", ["hot dog", "hot dog", "hot dog", "pizza", "pizza", "pizza", "pizza", "pizza", "pizza", "pizza"], 0.9),
    ("punctuation inside a word becomes a space", "hot-dog", ["hot dog", "hot dog", "hot dog", "pizza", "pizza", "pizza", "pizza", "pizza", "pizza", "pizza"], 0.9),
    ("a spaced hyphen is deleted", "hot - dog", ["hotdog", "hot  dog", "hot  dog", "x", "x", "x", "x", "x", "x", "x"], 0.6),
    ("digit,digit: every mark deleted", "1,000", ["1000", "1000", "1000", "100", "100", "100", "100", "100", "100", "100"], 0.9),
    ("digit,digit also deletes other marks", "1,000 (approx)", ["1000 approx", "1000 approx", "1000 approx", "100", "100", "100", "100", "100", "100", "100"], 0.9),
    ("period not before a digit removed", "st. louis", ["st louis", "st louis", "st louis", "chicago", "chicago", "chicago", "chicago", "chicago", "chicago", "chicago"], 0.9),
    ("period before a digit kept", "3.5", ["3.5", "3.5", "3.5", "35", "35", "35", "35", "35", "35", "35"], 0.9),
    ("contractions restored", "dont know", ["don't know", "don't know", "don't know", "no", "no", "no", "no", "no", "no", "no"], 0.9),
    ("contraction after article removal", "isnt", ["isn't", "isn't", "is not", "is not", "is not", "is not", "is not", "is not", "is not", "is not"], 0.6),
    ("newline, tab and outer spaces", "  white\tand\nblack ", ["white and black", "white and black", "white and black", "white", "white", "white", "white", "white", "white", "white"], 0.9),
    ("question mark and exclamation", "yes?!", ["yes", "yes", "yes", "yes", "yes", "no", "no", "no", "no", "no"], 1.0),
    ("slash and brackets", "[left/right]", ["left right", "left right", "left right", "left", "left", "left", "left", "left", "left", "left"], 0.9),
    ("none is zero", "none", ["0", "0", "0", "1", "1", "1", "1", "1", "1", "1"], 0.9),
    ("quote and backtick", "\"ok\" `fine`", ["ok fine", "ok fine", "fine", "fine", "fine", "fine", "fine", "fine", "fine", "fine"], 0.6),
    ("many periods: at most 32 removed", "b........................................", ["b", "b", "c", "c", "c", "c", "c", "c", "c", "c"], 0.0),
    ("at sign, plus, equals", "a@b+c=d", ["b c d", "b c d", "b c d", "x", "x", "x", "x", "x", "x", "x"], 0.9),
    ("underscore and backslash", "snake_case\\path", ["snake case path", "snake case path", "snake case path", "x", "x", "x", "x", "x", "x", "x"], 0.9),
    ("less and greater", "<3 >2", ["3 2", "3 2", "3 2", "x", "x", "x", "x", "x", "x", "x"], 0.9),
    ("colon and apostrophe are not in the list", "it's 5:30", ["it's 5:30", "it's 5:30", "it's 5:30", "x", "x", "x", "x", "x", "x", "x"], 0.9),
    ("fewer than ten answers", "cat", ["cat", "cat", "dog"], 0.4444444444444444),
]


@pytest.mark.parametrize("what,prediction,answers,expected", VQA_CASES)
def test_vqa_accuracy_equals_the_official_evaluation(what, prediction, answers, expected):
    assert vqa_accuracy(prediction, answers) == pytest.approx(expected, abs=1e-12), what


def test_vqa_normalisation_steps():
    assert normalize_punctuation("hot-dog") == "hot dog"
    assert normalize_punctuation("hot - dog") == "hot  dog"
    assert normalize_punctuation("1,000 (approx)") == "1000 approx"
    assert normalize_punctuation("st. louis, 3.5") == "st louis 3.5"
    assert normalize_digits_articles("The Two dogs dont") == "2 dogs don't"


def test_vqa_answer_postprocessing():
    assert postprocess_answer("two Question: what") == "two "
    assert postprocess_answer("red, blue") == "red"
    assert postprocess_answer("yes Short answer: no") == "yes "


# ---------------------------------------------------------------------------------------- ROC-AUC


def direct_auc(labels, scores):
    """The definition: over all (positive, negative) pairs, 1 if the positive scores higher, 1/2 on a tie."""
    pos = [s for y, s in zip(labels, scores) if y == 1]
    neg = [s for y, s in zip(labels, scores) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_equals_the_direct_count(seed):
    rng = random.Random(seed)
    labels = [rng.randint(0, 1) for _ in range(300)]
    labels[:2] = [0, 1]
    scores = [round(rng.random() + 0.3 * y, 1) for y in labels]  # rounding makes many ties
    assert roc_auc(labels, scores) == pytest.approx(direct_auc(labels, scores), abs=1e-12)


def test_roc_auc_known_values():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.2, 0.9]) == 1.0
    assert roc_auc([0, 1], [0.5, 0.5]) == 0.5
    assert math.isclose(roc_auc([1, 0, 1], [0.0, 1.0, 0.0]), 0.0)
    with pytest.raises(ValueError):
        roc_auc([1, 1], [0.1, 0.2])
