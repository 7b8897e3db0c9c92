"""HTML page -> interleaved :class:`pipeline.document.Document` (see :mod:`pipeline.extract.page`).

Stages, one module each: ``charset`` (decode) -> ``dom`` (parse, clean) -> ``meta`` (title,
language, opt-outs) -> ``furniture`` (navigation, ads, sharing; class names judged by
``names``) -> ``boilerplate`` (main content, weighted by article ``markup``) -> ``expand``
(the article around it) -> ``linearize`` (text blocks and ``images`` in reading order) ->
``noise`` (in-article markers, prompts, bylines); ``fallback`` when that finds too little.
Pure; no Beam.
"""

from pipeline.extract.page import ExtractOptions, extract_document, extract_with_reason

__all__ = ["ExtractOptions", "extract_document", "extract_with_reason"]
