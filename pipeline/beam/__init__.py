"""The Beam layer: thin DoFns and composite transforms over the pure stages, one module per
stage, plus the blob store and the progress line. Only this package and ``pipeline.jobs``
import ``apache_beam``."""
