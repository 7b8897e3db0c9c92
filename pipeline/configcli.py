"""Command-line flags generated from typed dataclass configs (no hand-kept parsers).

A field ``min_words: int = 10`` of a section config mounted at ``filter`` becomes
``--filter.min_words INT``; top-level fields become ``--name``. Booleans take
``true/false``; tuples and lists take comma-separated values. Help text comes from
``field(metadata={"help": ...})`` when given.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, get_args, get_origin


def _parse_bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _converter(tp: Any):
    """A function str -> value for a field type, or None if the type is not a flag type."""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        conv = _converter(inner[0]) if len(inner) == 1 else None
        return (lambda s: None if s.lower() in ("none", "") else conv(s)) if conv else None
    if origin in (tuple, list, frozenset):
        (elem, *_) = get_args(tp) or (str,)
        conv = _converter(elem) or str
        wrap = {tuple: tuple, list: list, frozenset: frozenset}[origin]
        return lambda s: wrap(conv(x.strip()) for x in s.split(",") if x.strip())
    if tp is bool:
        return _parse_bool
    if tp in (int, float, str):
        return tp
    return None


def add_config_args(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> None:
    """Add one flag per field of dataclass ``cls`` (recursing into nested dataclasses)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            add_config_args(parser, tp, prefix=f"{name}.")
            continue
        conv = _converter(tp)
        if conv is None or f.metadata.get("cli") is False:
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        shown = ",".join(map(str, default)) if isinstance(default, (tuple, list, frozenset)) else default
        parser.add_argument(
            f"--{name}",
            dest=name,
            type=conv,
            default=argparse.SUPPRESS,
            metavar=getattr(tp, "__name__", "VALUE").upper(),
            help=f"{f.metadata.get('help', '')} (default: {shown})".strip(),
        )


def config_from_args(cls: type, args: argparse.Namespace, prefix: str = "", **overrides: Any):
    """Build ``cls`` from parsed flags; fields not given keep their defaults."""
    hints = typing.get_type_hints(cls)
    values = dict(overrides)
    given = vars(args)
    for f in dataclasses.fields(cls):
        name = f"{prefix}{f.name}"
        if f.name in values:
            continue
        if dataclasses.is_dataclass(hints[f.name]):
            values[f.name] = config_from_args(hints[f.name], args, prefix=f"{name}.")
        elif name in given:
            values[f.name] = given[name]
    return cls(**values)


def config_to_dict(cfg: Any) -> dict:
    """JSON-safe dict of a (nested) dataclass config, for writing beside outputs."""

    def conv(v):
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (tuple, list, frozenset, set)):
            return [conv(x) for x in (sorted(v) if isinstance(v, (set, frozenset)) else v)]
        return v

    return conv(cfg)
