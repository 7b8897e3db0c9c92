"""Beam composites FilterText and Deduplicate on a handful of hand-written documents."""

import dataclasses
import pickle
import random

import apache_beam as beam
import numpy as np
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to
from test_filters import FRENCH, GOOD

from pipeline.beam.dedup import Deduplicate
from pipeline.beam.filter import FilterFn, FilterText, document_subjects
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.keys import near_id
from pipeline.dedup.minhash import mark_bucket
from pipeline.filter.text import TextFilterConfig


@dataclasses.dataclass(frozen=True)
class Doc:
    """Stand-in for pipeline.document.Document: only the attributes the stages read."""

    url: str
    text: str
    lang: str | None = None

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def run_and_count(build, docs):
    """Run build(pcoll) on an offline runner; return the counters as {namespace/name: value}."""
    p = BeamTestPipeline(runner=FnApiRunner())
    build(p | "Docs" >> beam.Create(docs))
    result = p.run()
    result.wait_until_finish()
    counters = {}
    for c in result.metrics().query(MetricsFilter())["counters"]:
        name = f"{c.key.metric.namespace}/{c.key.metric.name}"
        counters[name] = counters.get(name, 0) + c.committed
    return counters


# --- FilterText -------------------------------------------------------------------------------

GOOD_DOC = Doc("https://example.com/town", GOOD, "en")
FILTER_DOCS = [
    GOOD_DOC,
    Doc("https://example.fr/ville", FRENCH, "fr"),
    Doc("https://example.com/short", "Just a caption.", "en"),
    Doc("https://example.com/adult", GOOD + " porn xxx hardcore", "en"),
    Doc("https://example.com/menu", "Home\n" * 12 + GOOD, "en"),
]


def test_filter_text_routes_kept_and_dropped_and_counts_every_reason():
    def build(docs):
        result = docs | FilterText(TextFilterConfig())
        assert_that(result.kept, equal_to([GOOD_DOC]), label="Kept")
        reasons = result.dropped | beam.Map(lambda rd: (rd[0], rd[1].url))
        expected = [
            ("language_not_allowed", "https://example.fr/ville"),
            ("too_few_words", "https://example.com/short"),
            ("flagged_words", "https://example.com/adult"),
            ("gopher_dup_line_fraction", "https://example.com/menu"),
        ]
        assert_that(reasons, equal_to(expected), label="Dropped")

    counters = run_and_count(build, FILTER_DOCS)
    assert counters == {
        "filter/kept": 1,
        "filter/language_not_allowed": 1,
        "filter/too_few_words": 1,
        "filter/flagged_words": 1,
        "filter/gopher_dup_line_fraction": 1,
    }


def test_text_filter_fn_is_a_pure_function_of_its_element():
    """What makes a retried bundle safe: the same element gives the same outputs."""
    fn = FilterFn("text", TextFilterConfig(), "filter", document_subjects)
    fn.setup()
    for doc in FILTER_DOCS:
        first, again = list(fn.process(doc)), list(fn.process(doc))
        assert [getattr(o, "value", o) for o in first] == [getattr(o, "value", o) for o in again]


# --- Deduplicate -------------------------------------------------------------------------------


def words(n, seed):
    rng = random.Random(seed)
    return [f"w{rng.randrange(4000)}" for _ in range(n)]


def perturbed(ws, every):
    return " ".join(f"x{i}" if i % every == 0 else w for i, w in enumerate(ws))


BASE = words(600, seed=1)
SAME_URL_SHORT = Doc("https://example.com/a", " ".join(words(300, seed=2)))
SAME_URL_LONG = Doc("http://www.example.com/a/?utm_source=news", " ".join(words(320, seed=2)))
EXACT_1 = Doc("https://mirror-b.org/copy", " ".join(words(300, seed=3)))
EXACT_2 = Doc("https://mirror-a.org/copy", " ".join(words(300, seed=3)).upper() + "\n")
NEAR_1 = Doc("https://news.example/story", " ".join(BASE))
NEAR_2 = Doc("https://syndicated.example/story", perturbed(BASE, 100))  # Jaccard ≈ 0.9
FAR = Doc("https://blog.example/remix", perturbed(BASE, 15))  # Jaccard ≈ 0.5
OTHER = Doc("https://other.example/", " ".join(words(400, seed=9)))
DEDUP_DOCS = [SAME_URL_SHORT, SAME_URL_LONG, EXACT_1, EXACT_2, NEAR_1, NEAR_2, FAR, OTHER]

NEAR_KEPT = min(NEAR_1, NEAR_2, key=near_id)  # the rule: smallest id in the bucket stays
EXPECTED_UNIQUE = [SAME_URL_LONG, EXACT_2, NEAR_KEPT, FAR, OTHER]


def test_deduplicate_keeps_one_per_url_text_and_near_cluster():
    def build(docs):
        assert_that(docs | Deduplicate(DedupConfig()), equal_to(EXPECTED_UNIQUE))

    counters = run_and_count(build, DEDUP_DOCS)
    assert counters == {
        "dedup/url_duplicate": 1,  # the longer capture of /a is kept
        "dedup/exact_duplicate": 1,  # mirror-a < mirror-b
        "dedup/near_duplicate": 1,
        "dedup/unique": 5,
    }


def test_deduplicate_output_does_not_depend_on_input_order():
    """Bundles arrive in any order and any split; the kept set must not change."""
    orders = [DEDUP_DOCS[::-1], random.Random(5).sample(DEDUP_DOCS, len(DEDUP_DOCS))]

    def build(docs):
        for i, order in enumerate(orders):
            pcoll = docs.pipeline | f"Docs{i}" >> beam.Create(order)
            assert_that(
                pcoll | f"Dedup{i}" >> Deduplicate(), equal_to(EXPECTED_UNIQUE), label=f"Check{i}"
            )

    run_and_count(build, [])


def test_stages_can_be_turned_off():
    def build(docs):
        only_url = DedupConfig(by_text=False, near=False)
        expected = [d for d in DEDUP_DOCS if d is not SAME_URL_SHORT]
        assert_that(docs | Deduplicate(only_url), equal_to(expected))

    assert run_and_count(build, DEDUP_DOCS) == {"dedup/url_duplicate": 1, "dedup/unique": 7}


def _sig(values):
    return np.asarray(values, dtype="<u4").tobytes()


def test_mark_bucket_marks_only_members_similar_to_the_smallest_id():
    rep = list(range(10))
    similar = rep[:9] + [99]  # 0.9 equal
    different = rep[:5] + [99] * 5  # 0.5 equal
    bucket = ("0:abc", [("c", _sig(different)), ("b", _sig(similar)), ("a", _sig(rep))])
    assert list(mark_bucket(bucket, 0.8)) == [("b", True)]
    assert list(mark_bucket(("0:x", [("only", _sig(rep))]), 0.8)) == []


def test_dedup_facts_are_a_pure_function_of_the_document_and_bands_carry_ids():
    from pipeline.beam.dedup import FactsFn, _bands
    from pipeline.dedup.minhash import lsh_params

    fn = FactsFn(DedupConfig())
    element = (near_id(NEAR_1), NEAR_1)
    first, again = list(fn.process(element)), list(fn.process(element))
    assert first == again and len(first) == 1
    doc_id, facts = first[0]
    assert doc_id == element[0] and len(facts.sig) == 4 * DedupConfig().num_perm
    assert len(pickle.dumps(facts)) < len(pickle.dumps(NEAR_1)) / 2  # facts move, not documents
    bands, rows = lsh_params(DedupConfig().threshold, DedupConfig().num_perm)
    keyed = list(_bands(first[0], bands, rows))
    assert len(keyed) == bands and all(v == doc_id for _, v in keyed)  # the bands carry the id only


def test_star_pairs_and_near_duplicate_rule_agree_with_mark_bucket():
    from pipeline.dedup.minhash import is_near_duplicate, star_pairs

    rep = list(range(10))
    sigs = {"a": _sig(rep), "b": _sig(rep[:9] + [99]), "c": _sig(rep[:5] + [99] * 5)}
    bucket = ("0:abc", ["c", "b", "a"])
    assert sorted(star_pairs(bucket)) == [("a", "b"), ("a", "c")]
    assert list(star_pairs(("0:x", ["only"]))) == []
    marked = {m for r, m in star_pairs(bucket) if is_near_duplicate(sigs[m], [sigs[r]], 0.8)}
    assert marked == {m for m, _ in mark_bucket(("0:abc", [(k, sigs[k]) for k in "cba"]), 0.8)} == {"b"}
