"""The COCO caption evaluation's tokenisation: Stanford PTBTokenizer, lower case, punctuation out.

pycocoevalcap runs ``java -cp stanford-corenlp-3.4.1.jar edu.stanford.nlp.process.PTBTokenizer
-preserveLines -lowerCase`` over every caption and then drops the tokens in ``PUNCTUATIONS``.
That is "the standard tokenisation" CIDEr is reported with. Two ways to get it here:

* ``java``: that very jar, run the same way, when Java and pycocoevalcap (which ships the jar)
  are installed;
* ``python``: :func:`python_tokenize`, a re-implementation of the PTBTokenizer rules that
  captions meet (contractions and possessives split off, ``gonna`` -> ``gon na``, numbers,
  abbreviations, URLs and hyphenated words kept whole, brackets as ``-lrb-``..., Unicode quotes,
  dashes and ellipses normalised). It agrees with the jar on every case in
  ``tests/test_eval_metrics.py`` (checked against the jar whenever Java is there); PTB's full
  lexer has rules beyond these (e.g. SGML, phone numbers) where the two can differ.

``tokenize(..., backend="auto")`` uses the jar when it can and says which one ran; results files
record it. Note a quirk kept from pycocoevalcap: its punctuation list holds ``-LRB-`` etc. in
upper case, so the lower-cased ``-lrb-`` tokens survive.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

PUNCTUATIONS = frozenset(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":",
                          "-", "--", "...", ";"])
JAR = "stanford-corenlp-3.4.1.jar"
BACKENDS = ("auto", "java", "python")

_UNICODE = {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2026": "...", "\u2014": "--", "\u2013": "--",
            "\u00a0": " ", "\u00bd": "1/2", "\u00bc": "1/4", "\u00be": "3/4", "\u200b": "", "\ufeff": "", "\u00ad": "", "\u00ab": '"', "\u00bb": '"'}
_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-"}
# PTBTokenizer splits these words in two (its "gonna" family and "cannot")
_SPLIT_WORDS = {"cannot": ("can", "not"), "gonna": ("gon", "na"), "gotta": ("got", "ta"),
                "wanna": ("wan", "na"), "lemme": ("lem", "me"), "gimme": ("gim", "me"),
                "'tis": ("'t", "is"), "'twas": ("'t", "was"), "y'all": ("y'", "all")}
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr co corp inc ltd vs etc mt ft ave blvd dept est fig gen gov hon lt "
    "no rev sgt capt col messrs jan feb mar apr jun jul aug sep sept oct nov dec rep sen sens pa va".split())
_TOKEN = re.compile(r"""
    (?P<url>(?:https?|ftp)://[^\s"<>()\[\]]*[^\s"<>()\[\].,;:!?']|www\.[^\s"<>()\[\]]*[^\s"<>()\[\].,;:!?']
           |[\w.+-]+@[\w-]+(?:\.[\w-]+)+|@\w+)
  | (?P<initials>(?:[^\W\d_]\.){2,}(?![^\W\d_]))
  | (?P<number>\d+(?:[.,:/]\d+)*(?:[^\W\d_]+\d*)*(?:-[^\W_]+)*)
  | (?P<nquote>'n'|'n\b|(?<=\d)'(?:s|m|d|re|ve|ll)\b)
  | (?P<word>['\u2018\u2019]?[^\W\d_][^\W_]*(?:[-'&\u2019./][^\W_]+)*(?:\.(?!\.))?)
  | (?P<quote>["'\u2018\u2019])
  | (?P<dots>\.\.\.+|--+)
  | (?P<bangs>[!?]+|_+|\*+)
  | (?P<other>\S)
""", re.VERBOSE)
_CLITIC = re.compile(r"^(.*[^\W_])(n['\u2019]t|['\u2019](?:s|m|d|re|ve|ll))$")
_TIME_OF_DAY = re.compile(r"^(\d+(?::\d+)?)([ap]m)$")


def _word(token: str, at_end: bool) -> list[str]:
    """A word token -> PTB tokens: clitics split off, abbreviations keep their period."""
    if token.endswith("."):
        stem = token[:-1]
        if stem.lower() in _ABBREVIATIONS or (len(stem) == 1 and stem.isupper()):
            return [token, "."] if at_end else [token]  # PTB repeats the stop after a final abbreviation
        return [*_word(stem, False), "."]
    if token.lower() in _SPLIT_WORDS:
        return list(_SPLIT_WORDS[token.lower()])
    m = _CLITIC.match(token)
    if m:
        return [*_word(m.group(1), False), m.group(2).replace("\u2019", "'")]
    if token[0] in "'\u2018\u2019" and len(token) > 1:  # a quote opening a word: `word
        return ["`", *_word(token[1:], False)]
    return [token]


def _quote(text: str, start: int, mark: str) -> str:
    """A quote mark -> PTB's opening (`` or `) or closing ('' or ') form by what precedes it."""
    if mark == "\u2018":
        return "`"
    opening = start == 0 or text[start - 1].isspace() or text[start - 1] in "([{"
    if mark == '"':
        return "``" if opening else "''"
    return "`" if opening else "'"


def ptb_tokens(line: str) -> list[str]:
    """One line -> PTBTokenizer's tokens, lower-cased (before punctuation removal)."""
    for a, b in _UNICODE.items():
        line = line.replace(a, b)
    text = line.strip()
    out: list[str] = []
    for m in _TOKEN.finditer(text):
        kind, tok = m.lastgroup, m.group()
        at_end = not text[m.end():].strip()
        if kind == "number" and _TIME_OF_DAY.match(tok):
            out += list(_TIME_OF_DAY.match(tok).groups())
        elif kind == "initials":
            out += [tok, "."] if at_end else [tok]
        elif kind == "word":
            out += [tok[:-1], "'"] if tok.endswith("s'") else _word(tok, at_end)
        elif kind == "quote":
            out.append(_quote(text, m.start(), tok))
        elif kind == "dots":
            out.append("..." if tok.startswith(".") else "--")
        elif kind == "other":
            out.append(_BRACKETS.get(tok, tok))
        else:
            out.append(tok)
    return [t.lower() for t in out]


def python_tokenize(captions: Sequence[str]) -> list[str]:
    """Captions -> space-joined tokens with pycocoevalcap's punctuation removed."""
    return [" ".join(t for t in ptb_tokens(c.replace("\n", " ")) if t not in PUNCTUATIONS) for c in captions]


def jar_path() -> str | None:
    """pycocoevalcap's copy of the Stanford jar, when that package and a ``java`` are installed."""
    if shutil.which("java") is None:
        return None
    import importlib.util

    spec = importlib.util.find_spec("pycocoevalcap")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "tokenizer", JAR)
    return path if os.path.isfile(path) else None


def java_tokenize(captions: Sequence[str], jar: str) -> list[str]:
    """The jar over the captions, one per line, exactly as pycocoevalcap runs it."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(c.replace("\n", " ") for c in captions))
    try:
        out = subprocess.run(
            ["java", "-cp", jar, "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines", "-lowerCase", f.name],
            check=True, capture_output=True, timeout=600,
        ).stdout.decode("utf-8")
    finally:
        os.remove(f.name)
    lines = out.split("\n")
    return [" ".join(w for w in line.rstrip().split(" ") if w not in PUNCTUATIONS) for line in lines[: len(captions)]]


def tokenize(captions: Sequence[str], backend: str = "auto") -> tuple[list[str], str]:
    """(tokenised captions, the backend that ran: ``java`` or ``python``)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown tokenizer backend {backend!r}")
    if not captions:
        return [], "python" if backend == "python" else backend
    jar = jar_path() if backend != "python" else None
    if backend == "java" and jar is None:
        raise RuntimeError("the java tokenizer needs `java` on PATH and pycocoevalcap installed")
    if jar is not None:
        return java_tokenize(captions, jar), "java"
    return python_tokenize(captions), "python"
