"""Joins for hot keys: one value per key against many items, streamed.

Beam's ``CoGroupByKey`` collects each key's values into lists; for a key with a million
values (a logo URL on every page, a boilerplate LSH bucket's representative) that is one
element of hundreds of MB. :func:`join_streamed` groups tagged values instead and reads the
group twice (find the one value, then stream the items), as runners may stream a large group
from their shuffle: the memory a key costs is bounded, only its time grows with it.
"""

from __future__ import annotations

import apache_beam as beam


def join_streamed(one, many, label: str):
    """(key, value) with one value per key, (key, item) with many -> (key, value, item) per
    item. Grouped and read twice (find the value, then stream the items) instead of listing a
    hot key's items: a URL on a million pages costs no memory, only its time."""

    def emit(element):
        key, tagged = element
        value = next((v for tag, v in tagged if tag == 0), None)
        for tag, item in tagged:
            if tag == 1:
                yield key, value, item

    return (
        (one | f"{label}One" >> beam.MapTuple(lambda k, v: (k, (0, v))),
         many | f"{label}Many" >> beam.MapTuple(lambda k, v: (k, (1, v))))
        | f"{label}Tagged" >> beam.Flatten()
        | f"{label}Group" >> beam.GroupByKey()
        | f"{label}Stream" >> beam.FlatMap(emit)
    )
