"""HTML page -> interleaved :class:`pipeline.document.Document` (see :mod:`pipeline.extract.page`).

Stages, one module each: ``charset`` (decode) -> ``dom`` (parse, clean) -> ``meta`` (title,
language, opt-outs) -> ``furniture`` (navigation, ads, sharing) -> ``boilerplate`` (main
content) -> ``linearize`` (text blocks and ``images`` in reading order). Pure; no Beam.
"""

from pipeline.extract.page import ExtractOptions, extract_document, extract_with_reason

__all__ = ["ExtractOptions", "extract_document", "extract_with_reason"]
