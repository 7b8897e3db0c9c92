"""`flamingo view PATH...`: look at shards in a browser, or write a page of chosen samples.

    flamingo view out/                      # serve on http://127.0.0.1:8765/ (loopback only)
    flamingo view 'out/*.tar' --port 0      # any free port
    flamingo view out/ --html some.html --query cats --limit 10

Serves interleaved, pair and other (e.g. video-frame) shards, local or on any filesystem
fsspec reads: shard list, sample list with paging and search (URL or text), one sample as
the model sees it. A directory also brings its ``dropped/`` shards (what the job's stages
dropped). ``--html`` writes a self-contained page instead (images embedded as thumbnails).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import threading

from flamingo.typedconfig import ArgumentParser, UsageError, add_flags, config, opt, resolve
from pipeline.shards import format as sf
from pipeline.shards import reader

SUMMARY = "look at shards in the browser (served on 127.0.0.1), or write a self-contained page"
DROPPED_DIR = "dropped"


@config
class ViewConfig:
    port: int = opt(8765, "port to serve on; 0 picks a free one", min=0, max=65535)
    host: str = opt("127.0.0.1", "address to serve on; anything but loopback shows the shards to the network")
    html: str | None = opt(None, "write a self-contained page of chosen samples to this file instead of serving")
    keys: tuple[str, ...] = opt((), "--html: the samples to include, by key")
    query: str = opt("", "--html: include the samples matching this search (URL or text)")
    limit: int = opt(20, "--html: at most this many samples (the first ones, without --keys or --query)",
                     min=1, max=10_000)
    thumb_px: int = opt(384, "--html: embed images as thumbnails of at most this many pixels; 0: whole",
                        min=0, max=16_384)
    per_page: int = opt(50, "samples per page of a shard's list", min=1, max=1000)
    max_tokens: int = opt(0, "token limit the counts are shown against; 0: the job's config.json, else "
                          f"{sf.MAX_TOKENS}", min=0)
    max_images: int = opt(0, "image limit the counts are shown against; 0: the job's config.json, else "
                          f"{sf.MAX_IMAGES}", min=0)


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="flamingo view", description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="+", metavar="PATH", help="shard files, directories, globs, braces or URLs")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging (every request)")
    add_flags(p, ViewConfig)
    return p


def shard_paths(patterns: list[str]) -> list[str]:
    """Patterns -> shard paths; a local directory brings its ``dropped/`` shards too."""
    for p in patterns:
        if "://" not in p and not any(c in p for c in "*?[{") and not os.path.exists(p):
            raise UsageError(f"{p}: no such file or directory")
    try:
        paths = reader.expand_paths(patterns)
        extra = [p.rstrip("/") + "/" + DROPPED_DIR for p in patterns
                 if "://" not in p and os.path.isdir(os.path.join(p, DROPPED_DIR))]
        paths += reader.expand_paths(extra) if extra else []
    except sf.ShardFormatError as e:
        raise UsageError(str(e)) from None
    if not paths:
        raise UsageError("no shards match " + " ".join(patterns), "give .tar files or directories holding them")
    return list(dict.fromkeys(paths))


def job_limits(shard: str) -> tuple[int | None, int | None]:
    """(max_tokens, max_images) from the config.json a job wrote beside its shards, if any."""
    folder = shard.rsplit("/", 1)[0] if "/" in shard else "."
    for where in (folder, folder.rsplit("/", 1)[0] if folder.endswith("/" + DROPPED_DIR) else None):
        if where is None:
            continue
        try:
            with reader.open_shard(f"{where}/config.json") as f:
                cfg = json.loads(f.read(1 << 20)).get("config", {})
            return _positive(cfg.get("max_tokens")), _positive(cfg.get("max_images"))
        except (OSError, ValueError, AttributeError, sf.ShardFormatError):
            continue
    return None, None


def _positive(v) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    cfg = resolve(ViewConfig, args)
    paths = shard_paths(args.paths)
    from pipeline.view.catalog import Catalog

    catalog = Catalog(paths)
    job_tokens, job_images = job_limits(paths[0])
    max_tokens = cfg.max_tokens or job_tokens or sf.MAX_TOKENS
    max_images = cfg.max_images or job_images or sf.MAX_IMAGES
    if cfg.html:
        return write_html(catalog, cfg, max_tokens, max_images)
    return serve_forever(catalog, cfg, max_tokens, max_images)


def write_html(catalog, cfg: ViewConfig, max_tokens: int, max_images: int) -> int:
    from pipeline.view.export import export_html, pick

    folder = os.path.dirname(os.path.abspath(cfg.html))
    if not os.path.isdir(folder):
        raise UsageError(f"--html {cfg.html}: no such directory {folder}")
    try:
        picks = pick(catalog, keys=cfg.keys, query=cfg.query, limit=cfg.limit)
    except KeyError as e:
        raise UsageError(f"--keys: no sample {e} in these shards") from None
    if not picks:
        raise UsageError("no sample matches" + (f" --query {cfg.query!r}" if cfg.query else ""))
    path = export_html(catalog, picks, cfg.html, thumb_px=cfg.thumb_px, max_tokens=max_tokens,
                       max_images=max_images)
    print(f"wrote {len(picks)} samples to {path}")
    return 0


def serve_forever(catalog, cfg: ViewConfig, max_tokens: int, max_images: int) -> int:
    from pipeline.view.server import LOOPBACK, App, serve

    app = App(catalog, max_tokens=max_tokens, max_images=max_images, per_page=cfg.per_page)
    try:
        server = serve(app, cfg.host, cfg.port)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise UsageError(f"port {cfg.port} is in use", "choose another with --port, or --port 0") from None
        raise UsageError(f"cannot serve on {cfg.host}:{cfg.port}: {e.strerror or e}") from None
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    if cfg.host not in LOOPBACK:
        print(f"flamingo view: warning: serving on {cfg.host}, reachable from the network", file=sys.stderr)
    print(f"flamingo view: {len(catalog.shards)} shards at http://{shown}:{port}/ (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0
