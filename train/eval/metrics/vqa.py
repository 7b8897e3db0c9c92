"""The VQA accuracy of the official evaluation (VQA v2's ``vqaEval.py``, the version OpenFlamingo uses).

Per question: the prediction and the ten human answers are cleaned (newlines and tabs to spaces,
stripped); if the humans do not all agree, all eleven are normalised: punctuation
(:func:`normalize_punctuation`), then lower case, number words to digits, articles dropped and
contractions restored (:func:`normalize_digits_articles`). Accuracy is ``min(#matching humans / 3,
1)`` computed on each of the ten leave-one-out subsets of nine humans and averaged: the
"10 choose 9" averaging.

Kept exactly, because they change scores:

* normalisation runs only when the human answers differ: when all ten wrote "two", the prediction
  "2" scores 0;
* the punctuation rule looks at the *raw* text to choose between deleting a mark and replacing it
  by a space (deleted when the mark touches a space anywhere in the answer, or the answer has a
  digit-comma-digit), and a full stop is removed unless a digit follows it, at most 32 times
  (the reference passes ``re.UNICODE`` where ``re.sub`` takes its ``count``);
* number words go to digits and articles go before contractions are looked up, each word alone.

The leave-one-out is by position, which is what the reference's ``item != gtAnsDatum`` comes to
for the official files (each answer carries its own ``answer_id``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

NUMBER_WORDS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
ARTICLES = frozenset(["a", "an", "the"])
PUNCTUATION = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",",
               "?", "!"]
_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")  # sic: a look-ahead for "<=digit", not a look-behind
_DIGIT_COMMA_DIGIT = re.compile(r"(\d)(\,)(\d)")
_MAX_PERIODS = int(re.UNICODE)  # 32: what the reference's third argument to sub() amounts to


def _contractions() -> dict[str, str]:
    """Apostrophe-less spellings -> the official answers' spelling (the reference's table)."""
    pairs = """
    aint:ain't arent:aren't cant:can't couldve:could've couldnt:couldn't couldn'tve:couldn't've
    couldnt've:couldn't've didnt:didn't doesnt:doesn't dont:don't hadnt:hadn't hadnt've:hadn't've
    hadn'tve:hadn't've hasnt:hasn't havent:haven't hed:he'd hed've:he'd've he'dve:he'd've hes:he's
    howd:how'd howll:how'll hows:how's Id've:I'd've I'dve:I'd've Im:I'm Ive:I've isnt:isn't itd:it'd
    itd've:it'd've it'dve:it'd've itll:it'll let's:let's maam:ma'am mightnt:mightn't
    mightnt've:mightn't've mightn'tve:mightn't've mightve:might've mustnt:mustn't mustve:must've
    neednt:needn't notve:not've oclock:o'clock oughtnt:oughtn't ow's'at:'ow's'at 'ows'at:'ow's'at
    'ow'sat:'ow's'at shant:shan't shed've:she'd've she'dve:she'd've she's:she's shouldve:should've
    shouldnt:shouldn't shouldnt've:shouldn't've shouldn'tve:shouldn't've somebody'd:somebodyd
    somebodyd've:somebody'd've somebody'dve:somebody'd've somebodyll:somebody'll somebodys:somebody's
    someoned:someone'd someoned've:someone'd've someone'dve:someone'd've someonell:someone'll
    someones:someone's somethingd:something'd somethingd've:something'd've
    something'dve:something'd've somethingll:something'll thats:that's thered:there'd
    thered've:there'd've there'dve:there'd've therere:there're theres:there's theyd:they'd
    theyd've:they'd've they'dve:they'd've theyll:they'll theyre:they're theyve:they've twas:'twas
    wasnt:wasn't wed've:we'd've we'dve:we'd've weve:we've werent:weren't whatll:what'll
    whatre:what're whats:what's whatve:what've whens:when's whered:where'd wheres:where's
    whereve:where've whod:who'd whod've:who'd've who'dve:who'd've wholl:who'll whos:who's
    whove:who've whyll:why'll whyre:why're whys:why's wont:won't wouldve:would've wouldnt:wouldn't
    wouldnt've:wouldn't've wouldn'tve:wouldn't've yall:y'all yall'll:y'all'll y'allll:y'all'll
    yall'd've:y'all'd've y'alld've:y'all'd've y'all'dve:y'all'd've youd:you'd youd've:you'd've
    you'dve:you'd've youll:you'll youre:you're youve:you've
    """
    return dict(p.split(":") for p in pairs.split())


CONTRACTIONS = _contractions()


def normalize_punctuation(text: str) -> str:
    out = text
    digit_comma = _DIGIT_COMMA_DIGIT.search(text) is not None
    for p in PUNCTUATION:
        if p + " " in text or " " + p in text or digit_comma:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD.sub("", out, count=_MAX_PERIODS)


def normalize_digits_articles(text: str) -> str:
    words = [NUMBER_WORDS.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in ARTICLES]
    return " ".join(CONTRACTIONS.get(w, w) for w in words)


def _clean(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def vqa_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """One question's accuracy in [0, 1] from the prediction and the human answers (10 in VQA v2)."""
    if not answers:
        raise ValueError("a question needs human answers")
    pred, gts = _clean(prediction), [_clean(a) for a in answers]
    if len(set(gts)) > 1:
        gts = [normalize_digits_articles(normalize_punctuation(a)) for a in gts]
        pred = normalize_digits_articles(normalize_punctuation(pred))
    matches = [g == pred for g in gts]
    total = sum(matches)
    # leave answer i out: the other humans who match are total - matches[i]
    return sum(min(1.0, (total - m) / 3.0) for m in matches) / len(gts)


def postprocess_answer(generated: str) -> str:
    """A generated continuation -> the answer OpenFlamingo scores: the text before any
    "Question"/"Answer"/"Short" the model went on to write, and before the first ", "."""
    answer = re.split("Question|Answer|Short", generated, maxsplit=1)[0]
    return re.split(", ", answer, maxsplit=1)[0]
