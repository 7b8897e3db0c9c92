"""The one counting filter DoFn, over the rule registry of :mod:`pipeline.filter.rules`.

Documents (text rules), pair candidates (caption rules) and CLIP-scored pairs (clip rules)
all go through :class:`FilterFn`: every verdict is counted as ``namespace/reason``
(``kept`` included), kept elements go to the main output and ``(reason, element)`` to the
``dropped`` output, so rejects can be written aside or, in the pairs job, kept as failed
rows. What a rule looks at comes from a *view* of the element (below): a function
returning the subjects to try in order (the first that passes wins, e.g. alt text, then
figure caption) and one giving the element back with the chosen subject applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.filter.captions import normalize_caption
from pipeline.filter.rules import Filter, Subject

DROPPED = "dropped"


class FilterFn(beam.DoFn):
    """Element -> kept (main output) or ``(reason, element)`` (``dropped``); each verdict counted.

    ``subjects(element, **side)`` lists what to check (None: pass the element through
    unchecked and uncounted); ``chosen(element, index)`` applies the subject that passed.
    Side inputs (the CLIP top-fraction cut) reach ``subjects`` as keywords.
    """

    def __init__(self, kind: str, config: Any, namespace: str,
                 subjects: Callable[..., list[Subject] | None], chosen: Callable[[Any, int], Any] | None = None):
        self.kind, self.config, self.namespace = kind, config, namespace
        self.subjects, self.chosen = subjects, chosen

    def setup(self) -> None:
        self.filter = Filter(self.kind, self.config)
        self._counters: dict[str, Any] = {}

    def process(self, element, **side):
        subjects = self.subjects(element, **side)
        if subjects is None:
            yield element
            return
        index, verdict = self.filter.first_passing(subjects)
        if verdict.reason not in self._counters:
            self._counters[verdict.reason] = Metrics.counter(self.namespace, verdict.reason)
        self._counters[verdict.reason].inc()
        if index is None:
            yield beam.pvalue.TaggedOutput(DROPPED, (verdict.reason, element))
        else:
            yield self.chosen(element, index) if self.chosen else element


class FilterText(beam.PTransform):
    """Documents -> ``result.kept`` and ``result.dropped`` (``(reason, doc)`` pairs); counters
    ``filter/<reason>`` for every document."""

    def __init__(self, config, label: str | None = None) -> None:
        super().__init__(label)
        self.config = config

    def expand(self, docs):
        fn = FilterFn("text", self.config, "filter", document_subjects)
        return docs | "CheckText" >> beam.ParDo(fn).with_outputs(DROPPED, main="kept")


# --- views: what the rules of each kind look at -----------------------------------------------


def document_subjects(doc) -> list[Subject]:
    return [Subject(text=doc.text, declared_lang=doc.lang)]


def caption_subjects(rec) -> list[Subject]:
    """A pair candidate's caption options, normalised, in order (crawl: alt text, then figure
    caption; a URL list row: its one caption)."""
    return [Subject(text=normalize_caption(c), declared_lang=rec.page_lang) for c in _options(rec)]


def choose_caption(rec, index: int):
    return replace(rec, caption=normalize_caption(_options(rec)[index]), caption_options=())


def _options(rec) -> tuple[str, ...]:
    return rec.caption_options or (rec.caption,)


def clip_subjects(rec, cut=None) -> list[Subject] | None:
    """Only successful, scored pairs are checked; failed rows pass through as they are."""
    if not rec.ok or rec.clip_score is None:
        return None
    return [Subject(score=rec.clip_score, score_cut=cut)]
