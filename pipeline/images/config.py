"""Every knob of image fetching and processing, in one typed config.

Defaults follow OBELICS / DataComp practice (min side 150 px, aspect ratio at
most 3) and are safe to point at the open web: private networks closed,
robots.txt and ``noai`` opt-outs honoured, bodies and time bounded.
"""

from __future__ import annotations

import os

from flamingo.typedconfig import config, opt, require

DEFAULT_USER_AGENT = (
    "FlamingoKitBot/0.1 (+https://github.com/flamingo-kit/flamingo-kit; image fetcher)"
)
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")


@config
class ImageConfig:
    # processing
    resize_mode: str = opt("keep_ratio", "keep_ratio: longest side = image_size; center_crop: square crop; no: keep size",
                           choices=("keep_ratio", "center_crop", "no"))
    image_size: int = opt(256, "target side in pixels", min=1, max=16384)
    resize_only_if_bigger: bool = opt(True, "never upscale (upscaling adds bytes, not information)")
    jpeg_quality: int = opt(90, "JPEG quality of stored images", min=1, max=100)
    formats: tuple[str, ...] = opt(FORMATS, "image formats decoded (first frame of a GIF)", choices=FORMATS)
    # filters (on the original image)
    min_side: int = opt(150, "drop images whose shorter side is smaller (pixels)", min=0)
    max_aspect_ratio: float = opt(3.0, "drop images longer than this many times their width (or the reverse)", min=1.0)
    max_original_bytes: int = opt(20 * 1024 * 1024, "largest image body read (bytes, decoded)", min=1)
    max_pixels: int = opt(40_000_000, "largest image decoded (pixels, from the header)", min=1)
    # network safety
    timeout_s: float = opt(10.0, "total seconds per request attempt, headers and body together", above=0)
    connect_timeout_s: float = opt(5.0, "seconds to connect", above=0)
    max_redirects: int = opt(5, "redirect hops followed, each re-checked", min=0, max=20)
    max_content_encodings: int = opt(2, "content encodings undone at most", min=0, max=5)
    allow_private_networks: bool = opt(False, "fetch from private, loopback and link-local addresses (tests, intranets only)")
    allowed_networks: tuple[str, ...] = opt((), "CIDRs reachable even when private networks are closed")
    dns_cache_ttl_s: float = opt(300.0, "seconds a host's checked addresses are reused", min=0)
    ca_bundle: str | None = opt(None, "PEM file or hashed directory of CAs trusted instead of the system store")
    # opt-outs and politeness
    user_agent: str = opt(DEFAULT_USER_AGENT, "User-Agent sent with every request (identify yourself)")
    robots_token: str = opt("", "token matched in robots.txt and X-Robots-Tag; '' = first word of user_agent")
    respect_robots: bool = opt(True, "honour robots.txt of each image host")
    disallowed_directives: frozenset[str] = opt(frozenset({"noai", "noimageai"}),
                                                "X-Robots-Tag / robots meta directives that refuse an image")
    send_referer: bool = opt(True, "send the page URL as Referer")
    threads: int = opt(16, "concurrent requests per worker", min=1, max=1024)
    per_host_concurrency: int = opt(4, "concurrent requests per host", min=1)
    per_host_rate: float = opt(20.0, "requests per second per host; 0 = unlimited", min=0)
    retries: int = opt(2, "extra attempts for transient failures only", min=0, max=10)
    backoff_base_s: float = opt(0.5, "first retry delay (seconds, doubled each time, with jitter)", min=0)
    backoff_max_s: float = opt(8.0, "longest retry delay (seconds)", min=0)
    max_retry_after_s: float = opt(10.0, "a longer Retry-After gives up instead of holding a worker", min=0)

    def validate(self) -> None:
        require(self.ca_bundle is None or os.path.exists(self.ca_bundle), "ca_bundle",
                f"{self.ca_bundle} not found", "give a PEM file or a hashed CA directory")
        require(self.user_agent.strip() != "", "user_agent", "must not be empty",
                "robots.txt rules and site owners need to know who fetches")

    @property
    def agent_token(self) -> str:
        """The product token robots.txt rules and X-Robots-Tag prefixes are matched against."""
        return (self.robots_token or self.user_agent.split("/")[0].split()[0]).lower()
