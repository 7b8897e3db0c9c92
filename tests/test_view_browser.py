"""flamingo view and report.html in a real browser: headless Chromium (Debian's ``chromium``
package) driven by Playwright.

Needs /usr/bin/chromium (``apt-get install chromium``; ``.ci/run`` installs it): without it
these tests are skipped with that reason, and under CI (``CI`` set) they fail instead. Each
test saves a screenshot of its page; the folder is printed at the end of the module
(``FLAMINGO_SCREENSHOTS=DIR`` chooses it).

Every page is loaded with its requests watched: anything but the viewer's own address, a
``file:`` page or a ``data:`` image is refused and fails the test (no request leaves the
machine), as does any dialog or script run.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import view_support as vs

from pipeline.dropped import DroppedItem, ImageNote, to_sample
from pipeline.shards import writer

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    if exe is None:
        why = "needs Debian's chromium package (apt-get install chromium) to drive a headless browser"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; .ci/run should have installed it")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright  # a test extra: a missing one is an error

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)  # headless, fresh profile
        yield b
        b.close()


@pytest.fixture(scope="module")
def screenshots(request, tmp_path_factory):
    folder = Path(os.environ.get("FLAMINGO_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    if any(folder.iterdir()):
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"\nbrowser screenshots: {folder}", flush=True)


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("browser-shards"))
    vs.write_interleaved(root), vs.write_pairs(root), vs.write_video(root)
    return root


@pytest.fixture(scope="module")
def viewer(shard_dir):
    """The real command, `flamingo view DIR --port 0`, in its own process; yields its address."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent),
                                                         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "view", shard_dir, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, line + proc.stderr.read()
        yield line.split("at ", 1)[1].split()[0].rstrip("/")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


class Guarded:
    """A page whose dialogs, script errors and requests are recorded; requests that would
    leave the allowed origin are aborted and recorded as escapes."""

    def __init__(self, browser, allowed: str, bypass_csp: bool = False):
        self.context = browser.new_context(bypass_csp=bypass_csp, viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.dialogs, self.errors, self.escapes = [], [], []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def route(r):
            if r.request.url.startswith((allowed, "data:")):
                r.continue_()
            else:
                self.escapes.append(r.request.url)
                r.abort()

        self.context.route("**/*", route)

    def images_loaded(self, selector: str = "img") -> list[int]:
        """Scroll every image into view (they load lazily), wait for it, return natural widths."""
        widths = []
        for img in self.page.query_selector_all(selector):
            img.scroll_into_view_if_needed()
            self.page.wait_for_function("i => i.complete", arg=img, timeout=10_000)
            widths.append(img.evaluate("i => i.naturalWidth"))
        return widths

    def assert_inert(self):
        p = self.page
        assert self.dialogs == [] and self.errors == [] and self.escapes == []
        assert p.evaluate("() => window.__pwned") is None
        assert p.evaluate("() => document.querySelectorAll('script, iframe, object, embed').length") == 0
        handlers = p.evaluate("""() => [...document.querySelectorAll('*')].flatMap(
            e => [...e.attributes].filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name))""")
        assert handlers == []
        assert p.evaluate("() => document.querySelectorAll('a[href^=\"javascript\"], [src^=\"javascript\"]').length") == 0

    def close(self):
        self.context.close()


FLOW = """() => [...document.querySelector('.flow').children].map(e =>
    e.matches('figure.img') ? 'img' + e.querySelector('img').dataset.position :
    e.matches('.text') ? e.textContent : null).filter(x => x !== null)"""


def test_click_through_to_the_five_image_sample(browser, viewer, screenshots):
    g = Guarded(browser, viewer)
    p = g.page
    p.goto(viewer + "/")
    p.screenshot(path=screenshots / "viewer-shards.png", full_page=True)
    p.click("text=corpus-00000.tar")
    p.wait_for_selector("#rows")
    assert p.locator("#rows tr").count() == 15  # a header and 14 samples
    p.screenshot(path=screenshots / "viewer-sample-list.png", full_page=True)
    p.click(f"text={vs.FIVE_KEY}")
    p.wait_for_selector(".flow")
    assert p.evaluate(FLOW) == ["Herons: an introduction.\n", *[x for i in range(5) for x in (f"img{i}", vs.FIVE_TEXTS[i])]]
    assert g.images_loaded(".flow img") == [96 + 8 * i for i in range(5)]  # the stored images, each its own
    assert "120 / 256 tokens" in p.inner_text("dl.facts") and "5 / 5 images" in p.inner_text("dl.facts")
    p.screenshot(path=screenshots / "viewer-five-images.png", full_page=True)
    g.assert_inert()
    g.close()


def test_search_finds_a_known_sample(browser, viewer, screenshots):
    g = Guarded(browser, viewer)
    p = g.page
    p.goto(viewer + "/")
    p.fill("header input[name=q]", vs.KNOWN_WORD)
    p.press("header input[name=q]", "Enter")
    p.wait_for_selector("#rows")
    p.screenshot(path=screenshots / "viewer-search.png", full_page=True)
    key = vs.ordinary(12)[-2].key
    assert p.locator("#rows a.key").all_inner_texts() == [key]
    p.click(f"text={key}")
    p.wait_for_selector(".flow")
    assert vs.KNOWN_WORD in p.inner_text(".flow")
    g.assert_inert()
    g.close()


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "escaping-alone"])
def test_hostile_strings_stay_inert(browser, viewer, screenshots, bypass_csp):
    """With the Content-Security-Policy, and without it (the browser told to ignore it), so
    the escaping alone is shown to keep every string inert."""
    g = Guarded(browser, viewer, bypass_csp=bypass_csp)
    p = g.page
    p.goto(f"{viewer}/shard?s=1")
    p.click(f"text={vs.HOSTILE_KEY}")
    p.wait_for_selector(".flow")
    assert all(w > 0 for w in g.images_loaded(".flow img"))
    text = p.inner_text("main")
    for s in (vs.HOSTILE[0], vs.HOSTILE[1], vs.HOSTILE[2], vs.HOSTILE[5], vs.HOSTILE[6]):
        assert s in text  # visible as text
    assert "U+202E" in text and "\u202e" not in text
    alts = p.evaluate("() => [...document.querySelectorAll('.flow img')].map(i => i.alt)")
    assert alts[0] == vs.HOSTILE[1]
    p.screenshot(path=screenshots / f"viewer-hostile-{'bypass-csp' if bypass_csp else 'csp'}.png", full_page=True)
    g.assert_inert()
    g.close()


def test_static_page_works_alone(browser, shard_dir, tmp_path, screenshots):
    from pipeline.cli import main as flamingo

    out = tmp_path / "samples.html"
    assert flamingo(["view", shard_dir, "--html", str(out), "--keys", f"{vs.FIVE_KEY},{vs.HOSTILE_KEY},video0001"]) == 0
    g = Guarded(browser, "file://", bypass_csp=True)
    g.page.goto(out.as_uri())
    widths = g.images_loaded()
    assert len(widths) == 11 and all(w > 0 for w in widths)
    g.page.screenshot(path=screenshots / "static-page.png", full_page=True)
    g.assert_inert()
    g.close()


def report_dir(root: Path) -> Path:
    """A job output as finish_job leaves it, with hostile kept and dropped samples."""
    from pipeline.jobs.report import STAGES
    from pipeline.jobs.report_html import write_report_html

    writer.write_shard(str(root), "corpus-00000", sorted([vs.five_image_sample(), vs.hostile_sample(),
                                                          *vs.ordinary(4)], key=lambda s: s.key))
    tiny = vs.jpeg_bytes(40, 30, seed=3)
    items = [DroppedItem("filter", "too_short", "https://evil.example/a", "https://evil.example/a",
                         title=vs.HOSTILE[0], nodes=(vs.HOSTILE[2], ImageNote("javascript:alert(9)", vs.HOSTILE[1]),
                                                     vs.HOSTILE[5])),
             DroppedItem("images", "too_small", "https://img.example/tiny.jpg", "https://img.example/tiny.jpg",
                         detail="on " + vs.HOSTILE[6], nodes=(ImageNote("https://img.example/tiny.jpg", "",
                                                                        "tiny.jpg", 40, 30, "too_small"),))]
    writer.write_shard(str(root / "dropped"), "dropped-00000", [to_sample(it, lambda b: tiny) for it in items])
    counters = {"read": {"pages": 40, "not_html": 3}, "extract": {"ok": 35, "no_main_content": 2},
                "filter": {"kept": 20, "too_short": 15}, "dedup": {"unique": 18, "url_duplicate": 2},
                "documents": {"kept": 6, "dropped_no_images": 12}, "images": {"ok": 30, "too_small": 5},
                "image_refs": {"ok": 28, "too_small": 6}, "write": {"sequences": 6, "images": 12}}
    stats = {"job": "corpus", "shards": ["corpus-00000.tar"], "samples": 6, "images": 12, "bytes": 1,
             "counters": counters, "distributions": {"tokens_per_sequence": {"count": 6, "min": 40, "p50": 42,
                                                                               "p90": 120, "max": 120, "mean": 55}}}
    write_report_html(str(root), stats, {"tokens_per_sequence": [40, 41, 42, 43, 60, 120]}, stages=STAGES,
                      not_drops={"ok", "kept", "unique", "pages", "sequences", "images"})
    return root / "report.html"


def test_report_page(browser, tmp_path, screenshots):
    page_path = report_dir(tmp_path)
    g = Guarded(browser, "file://", bypass_csp=True)
    p = g.page
    p.goto(page_path.as_uri())
    text = p.inner_text("main")
    for label in ("pages read", "sequences written", "too_short", "dropped_no_images", "url_duplicate"):
        assert label in text
    assert p.locator("#funnel ~ svg").count() >= 2  # documents and images funnels
    assert p.locator("h3#drop-filter-too_short").count() == 1 and p.locator("h3#drop-images-too_small").count() == 1
    widths = g.images_loaded(".gallery img")
    assert len(widths) >= 7 and all(w > 0 for w in widths)  # kept thumbnails and the dropped tiny image
    assert vs.HOSTILE[2] in text and vs.HOSTILE[6] in text  # a dropped page's text and detail, as text
    p.screenshot(path=screenshots / "report.png", full_page=True)
    g.assert_inert()
    g.close()
