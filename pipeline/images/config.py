"""Every knob of image fetching and processing, in one typed config.

Defaults follow OBELICS / DataComp practice (min side 150 px, aspect ratio at
most 3) and are safe to point at the open web: private networks closed,
robots.txt and ``noai`` opt-outs honoured, bodies and time bounded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_USER_AGENT = (
    "FlamingoKitBot/0.1 (+https://github.com/flamingo-kit/flamingo-kit; image fetcher)"
)


@dataclass
class ImageConfig:
    # processing
    resize_mode: str = "keep_ratio"  # "keep_ratio" (max side = image_size) | "center_crop" | "no"
    image_size: int = 256
    resize_only_if_bigger: bool = True  # never upscale: upscaling adds bytes, not information
    jpeg_quality: int = 90
    formats: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF")
    # filters (on the original image)
    min_side: int = 150
    max_aspect_ratio: float = 3.0
    max_original_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    # network safety
    timeout_s: float = 10.0  # total per request attempt, headers and body together
    connect_timeout_s: float = 5.0
    max_redirects: int = 5
    max_content_encodings: int = 2
    allow_private_networks: bool = False
    # CIDRs reachable even when private networks are closed (one intranet subnet, a test host)
    allowed_networks: tuple[str, ...] = ()
    dns_cache_ttl_s: float = 300.0
    # PEM file (or OpenSSL hashed directory) of CAs to trust *instead of* the system store, e.g. a
    # corporate proxy's CA. Certificate and hostname verification have no off switch.
    ca_bundle: str | None = None
    # opt-outs and politeness
    user_agent: str = DEFAULT_USER_AGENT
    robots_token: str = (
        ""  # token matched in robots.txt / X-Robots-Tag; "" = first word of user_agent
    )
    respect_robots: bool = True
    disallowed_directives: frozenset[str] = field(
        default_factory=lambda: frozenset({"noai", "noimageai"})
    )
    send_referer: bool = True
    threads: int = 16
    per_host_concurrency: int = 4
    per_host_rate: float = 20.0  # requests per second per host; 0 = unlimited
    retries: int = 2  # extra attempts for transient failures only
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    max_retry_after_s: float = 10.0  # a longer Retry-After gives up instead of holding a worker

    def __post_init__(self) -> None:
        if self.resize_mode not in ("keep_ratio", "center_crop", "no"):
            raise ValueError(
                f"resize_mode must be keep_ratio, center_crop or no: {self.resize_mode!r}"
            )
        if self.image_size <= 0 or not 1 <= self.jpeg_quality <= 100:
            raise ValueError("image_size must be positive and jpeg_quality in 1..100")
        if self.threads < 1 or self.per_host_concurrency < 1:
            raise ValueError("threads and per_host_concurrency must be >= 1")
        if self.ca_bundle is not None and not os.path.exists(self.ca_bundle):
            raise ValueError(f"ca_bundle not found: {self.ca_bundle!r}")

    @property
    def agent_token(self) -> str:
        """The product token robots.txt rules and X-Robots-Tag prefixes are matched against."""
        return (self.robots_token or self.user_agent.split("/")[0].split()[0]).lower()
