"""Beam layer of extraction: page records -> Documents (counters ``extract/<reason>``)."""

from __future__ import annotations

import apache_beam as beam

from pipeline.beam.counters import count
from pipeline.read import warc


class ExtractFn(beam.DoFn):
    """Page record -> Document. Pages that opt out with ``noai`` (robots meta tag, or the
    response's X-Robots-Tag for our agent token) are dropped here; a ``noimageai`` header
    joins the document's opt-outs so its images are never used."""

    def __init__(self, options=None, agent_token: str | None = None):
        self.options, self.agent_token = options, agent_token

    def setup(self):
        from pipeline.images import ImageConfig

        self.token = self.agent_token or ImageConfig().agent_token

    def process(self, rec: warc.PageRecord):
        from pipeline.extract import extract_with_reason
        from pipeline.images.body import header_opt_outs

        kwargs = {"http_charset": rec.charset}
        if self.options is not None:
            kwargs["options"] = self.options
        doc, reason = extract_with_reason(rec.body, rec.url, **kwargs)
        if doc is None:
            count("extract", reason or "failed")
            return
        doc.opt_out = frozenset(doc.opt_out | header_opt_outs(rec.robots, self.token))
        if "noai" in doc.opt_out:
            count("extract", "opt_out_noai")
            return
        count("extract", "ok")
        count("extract_method", doc.method)  # which method found the content: main, page_prose, fallback, schema_org
        yield doc
