"""Image fetching and processing for the corpus and pairs jobs (no Beam here).

Public API: ``ImageConfig``, ``ImageRequest``, ``ImageResult``, ``ImageFetcher``,
``process_image``, ``phash_distance``.
"""

from pipeline.images.config import ImageConfig
from pipeline.images.fetcher import ImageFetcher
from pipeline.images.phash import phash_distance
from pipeline.images.process import process_image
from pipeline.images.records import ImageRequest, ImageResult

__all__ = [
    "ImageConfig",
    "ImageFetcher",
    "ImageRequest",
    "ImageResult",
    "phash_distance",
    "process_image",
]
