"""One registry of keep-or-drop rules, for every kind of thing the jobs filter.

A rule is a pure function ``(subject, context) -> Verdict``, registered under a kind
(``text`` for documents, ``caption`` for pair captions, ``clip`` for CLIP scores) and a
name, the name being what a config's ``filters`` lists (``--filter.filters``,
``--caption.filters``). :class:`Filter` runs the configured rules of one kind in order and
returns the first failure's reason; an unknown name is a configuration error, raised when
the config is built, so a job refuses it before any work. The Beam layer has one counting
DoFn over this (``pipeline.beam.filter.FilterFn``): every verdict becomes a counter.

Rules that need loaded resources (the language model, the flagged-word list) get them
from the :class:`RuleContext`, which loads each once, when first needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from flamingo.typedconfig import ConfigError


class Verdict(NamedTuple):
    """A rule's answer: keep or not, and a snake_case reason ("kept" when kept)."""

    keep: bool
    reason: str


KEPT = Verdict(True, "kept")


def drop(reason: str) -> Verdict:
    return Verdict(False, reason)


@dataclass(frozen=True)
class Subject:
    """What a rule looks at: a text (document or caption) and its page's declared language,
    or a CLIP score and the job-wide top-fraction cut."""

    text: str = ""
    declared_lang: str | None = None
    score: float | None = None
    score_cut: float | None = None


Rule = Callable[[Subject, "RuleContext"], Verdict]
RULES: dict[str, dict[str, Rule]] = {"text": {}, "caption": {}, "clip": {}}


def rule(kind: str, name: str) -> Callable[[Rule], Rule]:
    """Register a rule under ``kind`` and ``name`` (decorator)."""

    def register(fn: Rule) -> Rule:
        if name in RULES[kind]:
            raise ValueError(f"rule {kind}/{name} registered twice")
        RULES[kind][name] = fn
        return fn

    return register


def _load_rules() -> None:
    # The modules that define rules register them on import.
    from pipeline.filter import captions, clip, text  # noqa: F401


def rule_names(kind: str) -> tuple[str, ...]:
    _load_rules()
    return tuple(RULES[kind])


def check_rule_names(kind: str, names: Iterable[str], field: str = "filters") -> None:
    """ConfigError for a name no rule of ``kind`` has (called when a config is built)."""
    known = rule_names(kind)
    for name in names:
        if name not in known:
            raise ConfigError(f"unknown {kind} rule {name!r}", f"known: {', '.join(known)}", field=field)


class RuleContext:
    """A rule's config and the resources rules share, loaded once when first needed."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self._langid = None
        self._flagged: frozenset[str] | None = None
        self._lang_of: tuple[Subject | None, tuple[str, float]] = (None, ("", 0.0))

    def detect(self, text: str, max_chars: int = 2000) -> tuple[str, float]:
        """(ISO 639-1 code, probability) of the text's language (py3langid, offline)."""
        if self._langid is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            self._langid = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        lang, score = self._langid.classify(text[:max_chars])
        return lang, float(score)

    def language(self, subject: Subject) -> tuple[str, float]:
        """The subject's detected language, detected once however many rules ask."""
        if self._lang_of[0] is not subject:
            max_chars = getattr(self.config, "lang_id_max_chars", 2000)
            self._lang_of = (subject, self.detect(subject.text, max_chars))
        return self._lang_of[1]

    @property
    def flagged_words(self) -> frozenset[str]:
        if self._flagged is None:
            from pipeline.filter.text import load_flagged_words

            self._flagged = load_flagged_words(getattr(self.config, "flagged_words_path", None))
        return self._flagged


class Filter:
    """The configured rules of one kind (``config.filters``, in order). Build once per worker."""

    def __init__(self, kind: str, config: Any) -> None:
        check_rule_names(kind, config.filters)
        self.kind, self.config = kind, config
        self.context = RuleContext(config)
        self._rules = [RULES[kind][name] for name in config.filters]

    def check(self, subject: Subject) -> Verdict:
        """The first failing rule's verdict, else KEPT."""
        for fn in self._rules:
            verdict = fn(subject, self.context)
            if not verdict.keep:
                return verdict
        return KEPT

    def first_passing(self, subjects: list[Subject]) -> tuple[int | None, Verdict]:
        """Index of the first subject every rule keeps, or (None, the first subject's verdict)."""
        first = None
        for i, subject in enumerate(subjects):
            verdict = self.check(subject)
            if verdict.keep:
                return i, verdict
            first = first or verdict
        return None, first or drop("empty")
