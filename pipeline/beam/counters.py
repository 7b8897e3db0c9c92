"""Beam counters: every stage counts what it does as ``namespace/reason``; the job turns the
counters into ``stats.json`` and the report."""

from __future__ import annotations

from apache_beam.metrics import Metrics


def count(namespace: str, name: str, n: int = 1) -> None:
    Metrics.counter(namespace, name).inc(n)
