"""Caption rules, URL-list reading and per-shard stats, without Beam."""

import json

import pytest

from pipeline.beam.filter import caption_subjects, choose_caption
from pipeline.document import Document, ImageNode, TextBlock
from pipeline.filter.captions import CaptionFilterConfig, normalize_caption
from pipeline.filter.rules import Filter, Subject
from pipeline.pairs import records as pr
from pipeline.read.urllists import UrlListConfig, chunks, read_rows


class CaptionRules:
    """The registered caption rules of a config, checked on plain strings."""

    def __init__(self, config: CaptionFilterConfig | None = None) -> None:
        self.filter = Filter("caption", config or CaptionFilterConfig())

    def check(self, caption: str, declared_lang: str | None = None):
        return self.filter.check(Subject(caption, declared_lang))


@pytest.fixture(scope="module")
def check():
    return CaptionRules()


@pytest.mark.parametrize("caption,reason", [
    ("", "caption_empty"),
    ("IMG_20210304_1234.jpg", "caption_is_filename"),
    ("DSC01234", "caption_is_filename"),
    ("https://cdn.example.com/a/b.png", "caption_is_url"),
    ("Logo", "caption_boilerplate"),
    ("click here", "caption_boilerplate"),
    ("photo 3 of 12", "caption_boilerplate"),
    ("a red car", "caption_language_low_confidence"),  # langid is unsure on three words...
    ("red car", "caption_too_short"),
    ("word " * 65, "caption_too_long"),
    ("ein roter Wagen steht vor dem alten Haus am Markt", "caption_language_not_allowed"),
    ("a dog running on the beach at sunset", "kept"),
])
def test_caption_rules_name_each_drop(check, caption, reason):
    assert check.check(normalize_caption(caption)) == (reason == "kept", reason)


def test_page_language_rescues_an_uncertain_caption(check):
    assert check.check("a red car", declared_lang="en-GB") == (True, "kept")  # ...the page's lang agrees


def test_normalize_caption_unescapes_and_collapses():
    assert normalize_caption("  a&amp;b\tcat\x00 dog \n") == "a&b cat dog"


def test_caption_config_validates_and_can_switch_rules_off():
    with pytest.raises(ValueError, match="unknown caption rule 'nope'"):
        CaptionFilterConfig(filters=("nope",))
    relaxed = CaptionRules(CaptionFilterConfig(filters=("empty",)))
    assert relaxed.check("logo") == (True, "kept")


def test_crawl_candidates_fall_back_to_figcaption_and_honour_noimageai(check):
    doc = Document("https://ex.com/p", [TextBlock("text"), ImageNode("https://ex.com/a.jpg", alt="a.jpg",
                                                                      caption="a small boat on a lake")],
                   lang="en")
    [rec] = pr.crawl_candidates(doc, ("alt", "figcaption"))
    assert rec.caption_options == ("a.jpg", "a small boat on a lake") and rec.page_lang == "en"
    index, verdict = check.filter.first_passing(caption_subjects(rec))
    assert (index, verdict.reason) == (1, "kept")
    chosen = choose_caption(rec, index)
    assert chosen.caption == "a small boat on a lake" and chosen.page_url == "https://ex.com/p"
    [alt_only] = pr.crawl_candidates(doc, ("alt",))
    assert check.filter.first_passing(caption_subjects(alt_only)) == (None, (False, "caption_is_filename"))
    doc.opt_out = frozenset({"noimageai"})
    assert pr.crawl_candidates(doc, ("alt",)) == []


def test_url_list_columns_keys_and_row_groups(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"URL": f"http://ex.com/{i}.jpg", "TEXT": f"caption {i}", "score": i / 10, "n": i} for i in range(5)]
    pq.write_table(pa.Table.from_pylist(rows), str(tmp_path / "a.parquet"), row_group_size=2)
    cfg = UrlListConfig(url_col="URL", caption_col="TEXT", save_additional_columns=("score",))
    assert chunks(str(tmp_path / "a.parquet"), cfg) == [0, 1, 2]
    got = list(read_rows(str(tmp_path / "a.parquet"), cfg))
    assert [r.caption for r in got] == [f"caption {i}" for i in range(5)]
    assert got[3].extra == {"score": 0.3} and len({r.key for r in got}) == 5
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    again = list(read_rows(str(tmp_path / "b.jsonl"), cfg))
    assert [r.url for r in again] == [r.url for r in got]
    with pytest.raises(ValueError, match="no column"):
        list(read_rows(str(tmp_path / "a.parquet"), UrlListConfig(url_col="nope")))


def test_shard_stats_account_for_every_row():
    recs = [pr.PairRecord("k1", "u", "c"), pr.PairRecord("k2", "u", "c", status="http_404"),
            pr.PairRecord("k3", "u", "c", status="too_small"), pr.PairRecord("k4", "u", "c", status="duplicate_pair")]
    s = pr.shard_stats(recs, 1.0, 3.0)
    assert (s["count"], s["successes"], s["failed_to_download"], s["failed_to_resize"], s["filtered"]) == (4, 1, 1, 1, 1)
    assert s["status_dict"] == {"duplicate_pair": 1, "http_404": 1, "success": 1, "too_small": 1}
    assert s["duration"] == 2.0


def test_dedup_keeps_the_smallest_key():
    group = [pr.PairRecord(k, "u", "c", sha256="s") for k in ("b", "a", "c")]
    out = sorted(pr.dedup_group(group), key=lambda r: r.key)
    assert [(r.key, r.status) for r in out] == [("a", "success"), ("b", "duplicate_pair"), ("c", "duplicate_pair")]


def test_flamingo_pairs_forwards_every_flag(monkeypatch):
    from pipeline import cli
    from pipeline.jobs import pairs

    seen = []
    monkeypatch.setattr(pairs, "run", lambda argv: seen.append(argv) or {})
    assert cli.main(["pairs", "--input", "l.tsv", "--output", "o", "--list.url_col", "u"]) == 0
    assert seen == [["--input", "l.tsv", "--output", "o", "--list.url_col", "u"]]


def test_broken_jsonl_lines_are_counted_not_fatal(tmp_path):
    from pipeline.read.urllists import UrlListConfig, read_rows

    path = tmp_path / "list.jsonl"
    path.write_bytes(b'{"url": "http://a/1.jpg", "caption": "one"}\n{not json\n[1, 2]\n'
                     b'{"url": "http://a/2.jpg", "caption": "tw\xff"}\n')
    rows = list(read_rows(str(path), UrlListConfig()))
    assert [r.error for r in rows] == ["", "bad_json_line", "bad_json_line", ""]
    assert rows[3].url == "http://a/2.jpg" and rows[3].caption == "tw\ufffd"
