"""flamingo view's pages and server without a browser: routes, escaping of hostile strings
(parsed back with html.parser), image types from the bytes, the loopback Host check, the
Content-Security-Policy, the --html export and the command's errors."""

import html.parser
import http.client
import json
import os
import re
import socket

import pytest
import view_support as vs

from pipeline.cli import main as flamingo
from pipeline.cli.view import ViewConfig
from pipeline.shards import format as sf
from pipeline.shards import writer
from pipeline.view.catalog import Catalog
from pipeline.view.markup import el, url
from pipeline.view.server import CSP, App, serve


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("view-app"))
    vs.write_interleaved(root), vs.write_pairs(root), vs.write_video(root)
    return root


@pytest.fixture(scope="module")
def app(root):
    return App(Catalog(sorted(os.path.join(root, f) for f in os.listdir(root) if f.endswith(".tar"))))


def shard_of(app, name):
    return next(s.index for s in app.catalog.shards if s.name == name)


class Page(html.parser.HTMLParser):
    """Everything a browser would act on: elements, attributes, text."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.text = [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]

    def handle_data(self, data):
        self.text.append(data)


def assert_inert(text: str):
    page = Page(text)
    assert not {"script", "iframe", "object", "embed", "base", "svg"} & set(page.tags)
    for tag, name, value in page.attrs:
        assert not name.startswith("on"), (tag, name, value)
        if name in ("href", "src", "action"):
            assert re.match(r"^(/(?!/)|#|\?|data:image/(jpeg|png|webp);base64,)", value or ""), (tag, name, value)
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", text)  # bidi controls only as visible marks
    return page


def test_hostile_sample_page_is_inert_and_shows_the_strings(app):
    resp = app.handle(url("/sample", s=shard_of(app, "corpus-00000.tar"), k=vs.HOSTILE_KEY))
    assert resp.status == 200
    page = assert_inert(resp.body.decode())
    text = "".join(page.text)
    for s in vs.HOSTILE:
        if not re.search("[\u202a-\u202e\u2066-\u2069]", s):
            assert s in text  # shown as text, not acted on
    assert "U+202E" in text and "U+2066" in text  # bidi controls made visible
    alts = [v for tag, k, v in page.attrs if tag == "img" and k == "alt"]
    assert vs.HOSTILE[1] in alts  # the attribute holds the hostile string as a value, nothing more


def test_every_page_is_inert(app):
    i = shard_of(app, "corpus-00000.tar")
    for target in ["/", url("/shard", s=i), url("/search", q="<script>"), url("/search", q="evil", s=i),
                   url("/sample", s=shard_of(app, "00000.tar"), k="000000001"),
                   url("/sample", s=shard_of(app, "video-00000.tar"), k="video0001"), "/nothing<script>",
                   url("/sample", s=i, k="<img src=x onerror=alert(1)>")]:
        resp = app.handle(target)
        assert resp.content_type.startswith("text/html")
        assert_inert(resp.body.decode())


def test_five_images_in_order_with_their_text_between(app):
    body = app.handle(url("/sample", s=shard_of(app, "corpus-00000.tar"), k=vs.FIVE_KEY)).body.decode()
    flow = body[body.index('class="flow"'):]
    positions = [m.start() for m in re.finditer(r'data-position="(\d)"', flow)]
    assert re.findall(r'data-position="(\d)"', flow) == ["0", "1", "2", "3", "4"]
    for n, text in enumerate(vs.FIVE_TEXTS):
        where = flow.index(text)
        assert positions[n] < where and (n == 4 or where < positions[n + 1])
    assert "5 / 5 images" in body and "120 / 256 tokens" in body


def test_images_are_served_from_the_shard_with_the_type_their_bytes_prove(app, tmp_path):
    i = shard_of(app, "corpus-00000.tar")
    resp = app.handle(url("/media", s=i, k=vs.FIVE_KEY, m="2.jpg"))
    assert resp.status == 200 and resp.content_type == "image/jpeg" and resp.body[:3] == b"\xff\xd8\xff"
    assert app.handle(url("/media", s=i, k=vs.FIVE_KEY, m="json")).status == 400  # only image members
    assert app.handle(url("/media", s=i, k=vs.FIVE_KEY, m="../../etc/passwd")).status == 400
    # A member named .jpg whose bytes are HTML is not served at all (never as text/html).
    fake = sf.ImageRef("https://x/", "", 1, 1, "", "jpg", b"<html><script>alert(1)</script>")
    fake.sha256 = sf.sha256_hex(fake.data)
    sample = sf.InterleavedSample("fake", "https://x/", "d", 0, 3, "t", [sf.ImageSlot(0), sf.TextSegment("t")], [fake])
    writer.write_shard(str(tmp_path), "fake-00000", [sample])
    fake_app = App(Catalog([str(tmp_path / "fake-00000.tar")]))
    resp = fake_app.handle(url("/media", s=0, k="fake", m="0.jpg"))
    assert resp.status == 415 and resp.content_type.startswith("text/html") and b"<script>" not in resp.body
    assert "not a JPEG, PNG or WebP" in fake_app.handle(url("/sample", s=0, k="fake")).body.decode()


def test_video_sample_shows_frames_in_order_then_text(app):
    body = app.handle(url("/sample", s=shard_of(app, "video-00000.tar"), k="video0001")).body.decode()
    members = re.findall(r'data-member="([^"]+)"', body)
    assert members == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]
    assert body.index('data-member="3.jpg"') < body.index("A heron takes off from the water.")
    assert "is not one this version of the shard format decodes" not in body and "4 frames" in body


def test_bad_requests(app):
    assert app.handle("/shard?s=99").status == 400
    assert app.handle("/shard?s=x").status == 400
    assert app.handle(url("/sample", s=0, k="nope")).status == 404
    assert app.handle("/search?q=a&start=1.x").status == 400


def test_server_binds_loopback_answers_only_its_host_and_sends_the_policy(app):
    assert ViewConfig().host == "127.0.0.1"
    server = serve(app, "127.0.0.1", 0)
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", "/")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200 and resp.getheader("Content-Security-Policy") == CSP
        assert "script-src" not in CSP and "default-src 'none'" in CSP  # no script may run at all
        assert resp.getheader("X-Content-Type-Options") == "nosniff"
        conn.request("GET", "/", headers={"Host": "attacker.example"})  # DNS rebinding
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 421
        conn.request("POST", "/", body=b"x")
        assert conn.getresponse().status == 501
    finally:
        server.shutdown()


def test_html_export_is_self_contained(root, tmp_path, capsys):
    out = str(tmp_path / "five.html")
    assert flamingo(["view", root, "--html", out, "--keys", f"{vs.FIVE_KEY},{vs.HOSTILE_KEY}", "--thumb_px", "64"]) == 0
    text = open(out, encoding="utf-8").read()
    page = assert_inert(text)
    srcs = [v for tag, k, v in page.attrs if tag == "img" and k == "src"]
    assert len(srcs) == 7 and all(s.startswith("data:image/jpeg;base64,") for s in srcs)
    csp = next(v for tag, k, v in page.attrs if k == "content" and "default-src" in (v or ""))
    assert "default-src 'none'" in csp and "img-src data:" in csp and "script" not in csp
    assert "http://" not in re.sub(r">[^<]*<", "><", text)  # addresses appear as text only
    assert flamingo(["view", root, "--html", str(tmp_path / "q.html"), "--query", vs.KNOWN_WORD]) == 0
    assert "wrote 1 samples" in capsys.readouterr().out


def test_command_errors_are_one_line(root, tmp_path, capsys):
    assert flamingo(["view", str(tmp_path / "missing")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    assert flamingo(["view", root, "--html", str(tmp_path / "x.html"), "--keys", "nope"]) == 2
    assert "no sample 'nope'" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert flamingo(["view", root, "--port", str(busy.getsockname()[1])]) == 2
    assert "is in use" in capsys.readouterr().err


def test_markup_refuses_addresses_and_handlers_it_did_not_make():
    for bad in ("javascript:alert(1)", "//evil.example/x", "https://evil.example/", "data:text/html,<script>"):
        with pytest.raises(ValueError):
            el("a", {"href": bad}, "x")
    with pytest.raises(ValueError):
        el("img", {"onerror": "alert(1)"})
    assert str(el("p", {"title": '"><script>'}, "<b>")) == '<p title="&quot;&gt;&lt;script&gt;">&lt;b&gt;</p>'


def test_job_limits_come_from_the_jobs_config(root, tmp_path):
    from pipeline.cli.view import job_limits

    (tmp_path / "config.json").write_text(json.dumps({"config": {"max_tokens": 512, "max_images": 3}}))
    assert job_limits(str(tmp_path / "corpus-00000.tar")) == (512, 3)
    assert job_limits(str(tmp_path / "dropped" / "dropped-00000.tar")) == (512, 3)
    assert job_limits(os.path.join(root, "corpus-00000.tar")) == (None, None)
