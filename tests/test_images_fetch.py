"""The fetcher against a hostile loopback server: one expected status per route, no hangs."""

from __future__ import annotations

import os
import time
import tracemalloc

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from images_support import ROUTES, ImageServer, photo

from pipeline.images import ImageConfig, ImageFetcher, ImageRequest

FAST = {"timeout_s": 2.0, "backoff_base_s": 0.05, "per_host_rate": 0.0}


@pytest.fixture(scope="module")
def servers():
    internal = ImageServer("127.0.0.1").start()
    public = ImageServer("127.0.0.2", internal_port=internal.server_address[1]).start()
    yield public, internal
    public.stop()
    internal.stop()


@pytest.fixture
def fetch(servers):
    """fetch(path, **config) -> ImageResult, through a fresh fetcher that may reach loopback."""
    public, _ = servers
    fetchers = []

    def run(path: str, **overrides):
        config = ImageConfig(**{"allow_private_networks": True, **FAST, **overrides})
        fetcher = ImageFetcher(config)
        fetchers.append(fetcher)
        return fetcher.fetch(ImageRequest(public.url(path), referer=public.url("/page.html")))

    yield run
    for fetcher in fetchers:
        fetcher.close()


# (path, expected status): every hostile route of the issue, and the plain ones
CASES = [
    ("/img/astronaut-320x240.jpg", "ok"),
    ("/img/coffee-300x200.png", "ok"),
    ("/img/chelsea-300x200.webp", "ok"),
    ("/redirect/ok", "ok"),
    ("/redirect/metadata", "private_address"),  # link-local stays closed even with private allowed
    ("/redirect/file", "bad_scheme"),
    ("/redirect/loop", "too_many_redirects"),
    ("/lie/long", "truncated"),
    ("/lie/short", "truncated"),
    ("/bomb/gzip", "too_large"),
    ("/bomb/gzip-chain", "bad_content_encoding"),
    ("/huge.png", "decompression_bomb"),
    ("/frames.gif", "ok"),
    ("/truncated.jpg", "truncated"),
    ("/image.svg", "unsupported_format"),
    ("/page.html", "not_an_image"),
    ("/disguised.jpg", "not_an_image"),
    ("/noai.jpg", "noai"),
    ("/noai-other-bot.jpg", "ok"),
    ("/missing.jpg", "http_404"),
    ("/small.jpg", "too_small"),
    ("/wide.jpg", "bad_aspect_ratio"),
]


@pytest.mark.parametrize("path,expected", CASES)
def test_route_status(fetch, path, expected):
    result = fetch(path)
    assert result.status == expected, result.error
    if expected == "ok":
        assert result.source == "http" and result.data[:3] == b"\xff\xd8\xff"
        assert result.width > 0 and len(result.sha256) == 64 and len(result.phash) == 16


def test_gif_keeps_first_frame_only(fetch):
    result = fetch("/frames.gif")
    assert (result.original_width, result.original_height) == (160, 160)


# Both drips send a byte every 0.4 s for far longer than any test: a per-read socket
# timeout never fires, so a "timeout" status can only come from the total deadline.
@pytest.mark.parametrize("route", ["/drip", "/drip-headers"])
def test_drip_is_cut_at_the_total_deadline(fetch, route):
    assert fetch(route, timeout_s=1.0).status == "timeout"


def test_unexpected_errors_still_give_one_status(servers, monkeypatch):
    public, _ = servers
    from pipeline.images import fetcher as fetcher_module

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(fetcher_module, "process_image", broken)
    config = ImageConfig(allow_private_networks=True, **FAST)
    with ImageFetcher(config) as fetcher:
        results = fetcher.fetch_many([ImageRequest(public.url("/img/coffee-320x200.jpg"))])
    assert [r.status for r in results] == ["internal_error"]


@pytest.mark.parametrize(
    "route, cap, peak_limit",
    [("/infinite", 1 << 20, 8 << 20), ("/bomb/gzip", 2 << 20, 16 << 20)],  # the bomb decodes to 64 MB
)
def test_unbounded_bodies_are_capped_with_bounded_memory(fetch, route, cap, peak_limit):
    tracemalloc.start()
    try:
        result = fetch(route, max_original_bytes=cap)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.status == "too_large"
    assert peak < peak_limit


def test_robots_disallowed_path_is_never_requested(servers, fetch):
    public, _ = servers
    result = fetch("/private/photo.jpg")
    assert result.status == "robots_disallowed"
    assert "/private/photo.jpg" not in public.log
    assert "/robots.txt" in public.log


def test_robots_fetched_once_per_host_and_user_agent_sent(servers):
    public, _ = servers
    before = public.log.count("/robots.txt")
    config = ImageConfig(
        allow_private_networks=True, user_agent="TestBot/1.0 (+mailto:x@y.z)", **FAST
    )
    with ImageFetcher(config) as fetcher:
        urls = [public.url(f"/img/rocket-{200 + i}x200.jpg") for i in range(6)]
        results = fetcher.fetch_many([ImageRequest(u) for u in urls])
    assert [r.status for r in results] == ["ok"] * 6
    assert public.log.count("/robots.txt") == before + 1
    assert "TestBot/1.0 (+mailto:x@y.z)" in public.user_agents


def test_retry_after_is_honoured(servers, fetch):
    public, _ = servers
    start = time.monotonic()
    result = fetch("/429?case=honoured")
    assert result.status == "ok"
    assert time.monotonic() - start >= 1.0
    assert public.hits["/429?case=honoured"] == 2


def test_retry_after_without_retries_reports_429(fetch):
    assert fetch("/429?case=no-retry", retries=0).status == "http_429"


def test_transient_failures_are_retried(servers, fetch):
    public, _ = servers
    assert fetch("/flaky?case=retried").status == "ok"
    assert public.hits["/flaky?case=retried"] == 3


def test_permanent_failures_are_not_retried(servers, fetch):
    public, _ = servers
    fetch("/missing.jpg?case=once")
    assert public.hits["/missing.jpg?case=once"] == 1


def test_redirect_to_internal_address_is_refused_before_connecting(servers):
    public, internal = servers
    # The public-looking host is reachable by allowlist; every other private address is closed.
    config = ImageConfig(allowed_networks=("127.0.0.2/32",), **FAST)
    with ImageFetcher(config) as fetcher:
        result = fetcher.fetch(ImageRequest(public.url("/redirect/loopback")))
    assert result.status == "private_address"
    assert "127.0.0.1" in result.error
    assert internal.log == []


def test_private_networks_closed_means_zero_requests(servers):
    public, internal = servers
    before = len(public.log), len(internal.log)
    paths = [path for path, _ in CASES] + list(ROUTES)
    with ImageFetcher(ImageConfig(**FAST)) as fetcher:
        results = fetcher.fetch_many([ImageRequest(public.url(p)) for p in paths])
        results += fetcher.fetch_many([ImageRequest(internal.url(p)) for p in paths])
    assert {r.status for r in results} == {"private_address"}
    assert (len(public.log), len(internal.log)) == before


def test_fetch_many_keeps_order_and_dedups(servers):
    public, _ = servers
    urls = [
        public.url(p)
        for p in ("/img/coffee-310x200.jpg", "/missing.jpg?d=1", "/img/coffee-310x200.jpg")
    ]
    config = ImageConfig(allow_private_networks=True, **FAST)
    with ImageFetcher(config) as fetcher:
        results = fetcher.fetch_many([ImageRequest(u) for u in urls])
        stats = fetcher.stats()
    assert [r.url for r in results] == urls
    assert [r.status for r in results] == ["ok", "http_404", "ok"]
    assert public.hits["/img/coffee-310x200.jpg"] == 1
    assert stats["ok"] == 1 and stats["http_404"] == 1 and stats["source_http"] == 2


def test_crawl_bytes_are_used_without_network(servers):
    public, _ = servers
    url = public.url("/img/never-requested.jpg")
    with ImageFetcher(ImageConfig(), crawl_images={url: photo("chelsea", (300, 200))}) as fetcher:
        result = fetcher.fetch(ImageRequest(url))
        assert fetcher.stats()["http_requests"] == 0
    assert (result.status, result.source) == ("ok", "crawl")
    assert "/img/never-requested.jpg" not in public.log


def test_crawl_copy_on_the_request_and_its_record_opt_out(servers):
    public, _ = servers
    url = public.url("/img/never-requested-either.jpg")
    data = photo("chelsea", (300, 200))
    with ImageFetcher(ImageConfig()) as fetcher:
        ok, refused, other_agent = fetcher.fetch_many([
            ImageRequest(url, crawl_data=data),
            ImageRequest(url + "?2", crawl_data=data, crawl_robots=("noimageai",)),
            ImageRequest(url + "?3", crawl_data=data, crawl_robots=("otherbot: noai",)),
        ])
        assert fetcher.stats()["http_requests"] == 0
    assert (ok.status, ok.source) == ("ok", "crawl")
    assert (refused.status, refused.source) == ("noai", "crawl") and "noimageai" in refused.error
    assert other_agent.status == "ok"


def test_page_opt_out_is_honoured_without_network(servers):
    public, _ = servers
    with ImageFetcher(ImageConfig(allow_private_networks=True)) as fetcher:
        result = fetcher.fetch(
            ImageRequest(public.url("/img/x-300x200.jpg"), page_opt_out=frozenset({"noai"}))
        )
        assert fetcher.stats()["http_requests"] == 0
    assert result.status == "noai"


def test_cpu_slots_admit_at_most_n_holders():
    import threading

    from pipeline.images.fetcher import Slots

    slots, lock = Slots(2), threading.Lock()
    inside, most = 0, 0

    def work():
        nonlocal inside, most
        for _ in range(20):
            with slots:
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.001)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2 and inside == 0
