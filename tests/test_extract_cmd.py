"""`flamingo extract` through the real CLI dispatcher."""

import json

import pytest

from pipeline import cli

PAGE = ("<html><head><title>T</title></head><body><article><p>"
        + "First paragraph of the story, long enough to be kept by the extractor. " * 3
        + '</p><img src="/a.jpg" alt="A cat" width="640" height="480"><img src="/b.jpg"><p>'
        + "Second paragraph of the story, also long enough, with a comma, to be kept. " * 3
        + "\x1b[31m</p></article></body></html>")


@pytest.fixture
def page(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(PAGE)
    return path


def test_text_output_with_image_markers(page, capsys):
    assert cli.main(["extract", str(page), "--url", "https://e.org/x/"]) == 0
    out = capsys.readouterr().out
    assert '[image 640x480 https://e.org/a.jpg alt="A cat"]' in out
    assert "[image https://e.org/b.jpg]" in out
    assert out.index("First paragraph") < out.index("[image 640x480") < out.index("Second paragraph")
    assert "\x1b" not in out


def test_json_output(page, capsys):
    assert cli.main(["extract", str(page), "--url", "https://e.org/x/", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["title"] == "T" and [n["type"] for n in d["nodes"]] == ["text", "image", "image", "text"]


def test_dropped_page_exits_1(tmp_path, capsys):
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    assert cli.main(["extract", str(empty), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["dropped"] == "empty_input"


def test_missing_page_and_extraction_options(tmp_path, page, capsys):
    assert cli.main(["extract", str(tmp_path / "nope.html")]) == 2
    assert capsys.readouterr().err.strip() == f"flamingo extract: error: {tmp_path / 'nope.html'}: no such file"
    # The extraction options have flags: a page with less text than asked for is no document.
    assert cli.main(["extract", str(page), "--json", "--extract.min_text_chars", "100000"]) == 1
    assert json.loads(capsys.readouterr().out)["dropped"] == "no_main_content"
