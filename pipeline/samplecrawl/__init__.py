"""The sample crawl the project ships: a small, deterministic WARC of web pages written for the
project, in the layouts of the real web, whose images are photos that scikit-image ships.

It exists so that the demo and the tests of the corpus job have a realistic crawl to chew on
offline: article pages with figures, galleries, recipes, shops, forums, boilerplate, a French
and a German page, near-duplicates, lazy and ``srcset`` images, icons, tracking pixels, opt-outs,
image URLs that only HTTP could fetch, and a few broken or non-HTML records.

Build it with ``python -m pipeline.samplecrawl OUT.warc.gz`` or
``pipeline.samplecrawl.build.build_sample_crawl``.
"""
