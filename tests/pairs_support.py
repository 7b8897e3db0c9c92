"""Fixtures for the pairs tests: a loopback photo server, URL lists, a crawl, a tiny CLIP model."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from images_support import photo
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

# name -> (photo, size); served at /img/NAME.jpg
IMAGES = {
    "astronaut": ("astronaut", (320, 240)),
    "coffee": ("coffee", (300, 200)),
    "chelsea": ("chelsea", (256, 256)),
    "rocket": ("rocket", (240, 320)),
    "tiny": ("coffee", (40, 30)),  # below min_side: failed_to_resize
}

# (image name or None for a 404, caption, license)
ROWS = [
    ("astronaut", "an astronaut in a white suit holding a helmet", "cc-by"),
    ("coffee", "a cup of coffee on a saucer with a spoon", "cc0"),
    ("chelsea", "a tabby cat looking at the camera", "cc-by-sa"),
    ("rocket", "a rocket on the launch pad before lift off", "cc0"),
    ("astronaut", "an astronaut in a white suit holding a helmet", "cc-by"),  # duplicate pair
    ("tiny", "a very small picture of a coffee cup", "cc0"),
    (None, "this image is missing from the server", "cc0"),
]


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
        self.server.paths.append(self.path)
        name = self.path.removeprefix("/img/").removesuffix(".jpg")
        if self.path.startswith("/img/") and name in IMAGES:
            body, ctype, code = photo(IMAGES[name][0], IMAGES[name][1]), "image/jpeg", 200
        else:
            body, ctype, code = b"not found", "text/plain", 404
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class PhotoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.paths: list[str] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def url(self, name: str | None) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/img/{name or 'missing'}.jpg"

    def __enter__(self) -> PhotoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


def write_url_list(path, server: PhotoServer, fmt: str = "parquet", url_col: str = "url",
                   caption_col: str = "caption") -> list[dict]:
    rows = [{url_col: server.url(n), caption_col: c, "license": lic} for n, c, lic in ROWS]
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), str(path), row_group_size=3)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        import csv

        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t" if fmt == "tsv" else ",")
            w.writeheader()
            w.writerows(rows)
    return rows


PAGE = """<html lang="en"><head><title>A day at the space museum</title></head><body><article>
<h1>A day at the space museum</h1>
<p>We spent the whole afternoon at the museum of space flight, where the curators have
gathered suits, rockets and many photographs from the early missions of the program.</p>
<img src="{a}" alt="an astronaut in a white suit holding a helmet" width="320" height="240">
<p>The cafe on the ground floor serves strong coffee and we stopped there for a while to talk
about what we had seen in the rooms upstairs before going out to see the launch pad.</p>
<figure><img src="{c}" alt="IMG_2041.jpg"><figcaption>a cup of coffee on a saucer with a spoon</figcaption></figure>
<p>Outside, the old rocket stands on a replica of the launch pad, taller than the building next to it,
and children were running around its base while their parents read the signs about its history.</p>
<img src="{r}" alt="logo">
<p>On the way out we met the museum cat, who sleeps in the gift shop and greets every visitor.</p>
<img src="{k}" alt="a tabby cat looking at the camera">
</article></body></html>"""


def make_crawl(server: PhotoServer) -> bytes:
    """A WARC with one page of four images; the astronaut's bytes are in the crawl itself."""
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)

    def response(url, body, ctype):
        headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers))

    page = PAGE.format(a=server.url("astronaut"), c=server.url("coffee"), r=server.url("rocket"),
                       k=server.url("chelsea"))
    response("https://museum.example/visit", page.encode(), "text/html; charset=utf-8")
    response(server.url("astronaut"), photo("astronaut", (320, 240)), "image/jpeg")
    return buf.getvalue()


TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def tiny_clip(tmp_path) -> tuple[str, str, str]:
    """(model name, config path, safetensors checkpoint) of a random tiny open_clip model."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    config = tmp_path / "TinyClip-pairs.json"
    config.write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(str(config))
    torch.manual_seed(0)
    model = open_clip.create_model("TinyClip-pairs", pretrained=None)
    ckpt = tmp_path / "tiny_clip.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(ckpt))
    return "TinyClip-pairs", str(config), str(ckpt)


def photos() -> list[bytes]:
    """The JPEG bytes of the first four rows' images."""
    return [photo(*IMAGES[name]) for name, _, _ in ROWS[:4]]
