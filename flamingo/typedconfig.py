"""The kit's one configuration system: typed dataclasses -> flags -> a checked, resolved config.

Every command (the corpus and pairs jobs, training, the demo, evaluation) describes its options
as nested keyword-only dataclasses declared with :func:`config`, each field with :func:`opt`:
its default, a one-line help text and the values it allows. From that one declaration come

* the flags: one ``--section.field`` per leaf field (``--section.field value`` and
  ``--section.field=value`` both work); booleans take ``true``/``false`` (alone: true); lists take
  comma-separated values or JSON, the same everywhere; ``--help`` shows each default;
* files: a JSON or TOML file overrides defaults or a preset, flags override the file;
* checks: :func:`check` tests every value against its range before any work, plus each
  section's ``validate()`` for rules that tie fields together, and names the option in a
  one-line :class:`ConfigError`;
* the resolved ``config.json`` (:func:`to_dict`), which :func:`from_dict` reads back;
* named presets (:class:`Presets`).

It lives in ``flamingo`` because that is the bottom layer every other package may import;
it needs only the standard library.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import difflib
import functools
import json
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_PREFIX = "cfg:"  # argparse dest prefix of config flags, so they never clash with a command's own


class UsageError(Exception):
    """An expected failure the user can fix (bad option, missing file): one line, no traceback.

    ``hint`` says what to do; ``exit_code`` is 2 for usage errors, as argparse uses.
    """

    exit_code = 2

    def __init__(self, what: str, hint: str = "") -> None:
        super().__init__(what)
        self.what, self.hint = what, hint

    def line(self) -> str:
        return f"{self.what} ({self.hint})" if self.hint else self.what

    def __str__(self) -> str:
        return self.line()


class ConfigError(UsageError, ValueError):
    """A bad option value. ``field`` is the option's dotted name relative to the section that
    raised it; :func:`check` turns it into the full flag name."""

    def __init__(self, what: str, hint: str = "", *, field: str | None = None) -> None:
        super().__init__(what, hint)
        self.field = field

    def line(self) -> str:
        head = f"--{self.field}: {self.what}" if self.field else self.what
        return f"{head} ({self.hint})" if self.hint else head


@typing.dataclass_transform(kw_only_default=True)
def config(cls: type[T]) -> type[T]:
    """The one dataclass style for configs: keyword-only, mutable (tests and presets adjust
    copies), compared by value, and checked on construction (its own fields and ``validate()``;
    sections check themselves), so an invalid config cannot be built by accident."""
    if "__post_init__" not in cls.__dict__:
        cls.__post_init__ = _check_self  # type: ignore[attr-defined]
    return dataclasses.dataclass(kw_only=True)(cls)


def _check_self(self: Any) -> None:
    check(self, deep=False)


def opt(default: Any = dataclasses.MISSING, help: str = "", *, factory: Callable[[], Any] | None = None,
        min: float | None = None, max: float | None = None, above: float | None = None,
        choices: Iterable[Any] | None = None, flag: bool = True) -> Any:
    """A config field: default (or ``factory`` for mutable ones), one-line help, allowed values.

    ``min``/``max`` are inclusive bounds, ``above`` an exclusive lower bound, ``choices`` the
    allowed values (for a tuple field: of each element). ``flag=False`` keeps a field out of the
    command line (it can still be set from a file).
    """
    meta = {"help": help, "min": min, "max": max, "above": above,
            "choices": tuple(choices) if choices is not None else None, "flag": flag}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def section(cls: type, help: str = "") -> Any:
    """A nested config section, built with its own defaults."""
    return dataclasses.field(default_factory=cls, metadata={"help": help, "flag": True})


# ----------------------------------------------------------------------- types and values


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _optional_inner(tp: Any) -> Any | None:
    """X for ``X | None``, else None."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(inner) == 1 and type(None) in typing.get_args(tp):
            return inner[0]
    return None


def _type_name(tp: Any) -> str:
    inner = _optional_inner(tp)
    if inner is not None:
        return _type_name(inner)
    origin = typing.get_origin(tp)
    if origin in (tuple, list, frozenset, set):
        return "LIST"
    if origin is dict or tp is dict:
        return "JSON"
    return getattr(tp, "__name__", "VALUE").upper()


def _is_scalar(tp: Any) -> bool:
    return tp in (int, float, str, bool)


def coerce(tp: Any, value: Any, name: str) -> Any:
    """A JSON-ish value (from a file, or a parsed flag) -> the field's type, or ConfigError."""
    inner = _optional_inner(tp)
    if inner is not None:
        return None if value is None else coerce(inner, value, name)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"expected a table of {tp.__name__} fields, got {value!r:.60}", field=name)
        return from_dict(tp, value, prefix=f"{name}.")
    origin = typing.get_origin(tp)
    if origin in (tuple, list, frozenset, set):
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise ConfigError(f"expected a list, got {value!r:.60}", field=name)
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:  # fixed-length tuple
            if len(value) != len(args):
                raise ConfigError(f"expected {len(args)} values, got {value!r:.60}", field=name)
            return tuple(coerce(a, v, name) for a, v in zip(args, value))
        elem = args[0] if args else Any
        items = [coerce(elem, v, name) for v in value]
        return {tuple: tuple, list: list, frozenset: frozenset, set: frozenset}[origin](items)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"expected a JSON object, got {value!r:.60}", field=name)
        return dict(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"expected true or false, got {value!r:.60}", field=name)
    if tp in (int, float) and isinstance(value, bool):
        raise ConfigError(f"expected a number, got {value!r}", field=name)
    if _is_scalar(tp) and not isinstance(value, tp):
        raise ConfigError(f"expected {'an integer' if tp is int else 'a ' + tp.__name__}, got {value!r:.60}",
                          field=name)
    return value


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def parse_bool(text: str) -> bool:
    """The one boolean parser of the command line: true/false, yes/no, on/off, 1/0."""
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def parse_text(tp: Any, text: str) -> Any:
    """A flag's text -> the JSON-ish value :func:`coerce` takes.

    Lists: JSON (``[1, 2]``) or comma-separated scalars (``a,b``); ``""`` is the empty list.
    Optional fields: ``none`` (or ``null``) is None.
    """
    inner = _optional_inner(tp)
    if inner is not None:
        return None if text.strip().lower() in ("none", "null") else parse_text(inner, text)
    origin = typing.get_origin(tp)
    if origin in (tuple, list, frozenset, set):
        if text.lstrip().startswith("["):
            return json.loads(text)
        args = [a for a in typing.get_args(tp) if a is not Ellipsis] or [str]
        if not all(_is_scalar(a) for a in args):
            raise ValueError("expected a JSON list")
        return [parse_text(args[0], part.strip()) for part in text.split(",") if part.strip()]
    if origin is dict or tp is dict or dataclasses.is_dataclass(tp) or tp is Any:
        return json.loads(text)
    if tp is bool:
        return parse_bool(text)
    if tp in (int, float):
        try:
            return tp(text)
        except ValueError:
            raise ValueError(f"expected {'an integer' if tp is int else 'a number'}, got {text!r}") from None
    return text


# ------------------------------------------------------------------------ dicts and files


def to_dict(cfg: Any) -> Any:
    """The one serialiser: a (nested) config -> JSON-safe dicts and lists (sets sorted)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (set, frozenset)):
        return [to_dict(x) for x in sorted(cfg)]
    if isinstance(cfg, (tuple, list)):
        return [to_dict(x) for x in cfg]
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    return cfg


def from_dict(cls: type[T], data: dict[str, Any], *, prefix: str = "") -> T:
    """A (partial) dict -> ``cls``; missing fields keep their defaults, unknown ones are errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"expected a table of {cls.__name__} fields, got {data!r:.60}", field=prefix[:-1] or None)
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            raise ConfigError(f"unknown option {prefix}{key}", _did_you_mean(key, names, prefix))
    values = {k: coerce(hints[k], v, f"{prefix}{k}") for k, v in data.items()}
    try:
        return cls(**values)
    except ConfigError as e:  # raised by the section's own check: name the full option
        if prefix and e.field is not None and not e.field.startswith(prefix):
            e.field = f"{prefix}{e.field}"
        raise


def _did_you_mean(word: str, known: Iterable[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"did you mean {prefix}{close[0]}?" if close else ""


def merge(cfg: T, patch: dict[str, Any]) -> T:
    """Overlay a partial nested dict on a config (a file over a preset, flags over a file)."""

    def deep(base: dict, new: dict) -> dict:
        for k, v in new.items():
            base[k] = deep(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
        return base

    return from_dict(type(cfg), deep(to_dict(cfg), patch))


def load_file(path: str | Path) -> dict[str, Any]:
    """A JSON or TOML config file -> dict; a missing or malformed file is a ConfigError."""
    path = Path(path)
    if path.suffix not in (".json", ".toml"):
        raise ConfigError(f"config file {path} must be .json or .toml")
    try:
        text = path.read_text("utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from None
    try:
        if path.suffix == ".toml":
            import tomllib

            return tomllib.loads(text)
        data = json.loads(text)
    except ValueError as e:  # json.JSONDecodeError and tomllib.TOMLDecodeError both are
        raise ConfigError(f"config file {path} is not valid {path.suffix[1:].upper()}: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table of options")
    return data


# ---------------------------------------------------------------------------------- checks


def check(cfg: T, prefix: str = "", *, deep: bool = True) -> T:
    """Every value in its declared range, then each section's ``validate()``; returns ``cfg``.

    Raises ConfigError naming the full option (``--filter.min_words``) and what it allows.
    ``deep=False`` skips nested sections (they were checked when they were built).
    """
    hints = _hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value, name = getattr(cfg, f.name), f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hints[f.name]) or (
                isinstance(value, (list, tuple)) and value and dataclasses.is_dataclass(value[0])):
            if deep and value is not None:
                items = value if isinstance(value, (list, tuple)) else [value]
                for i, item in enumerate(items):
                    check(item, f"{name}[{i}]." if isinstance(value, (list, tuple)) else f"{name}.")
        else:
            _check_value(f, value, name)
    validate = getattr(cfg, "validate", None)
    if callable(validate):
        try:
            validate()
        except ConfigError as e:
            if e.field is not None and not e.field.startswith(prefix):
                e.field = f"{prefix}{e.field}"
            raise
    return cfg


def _check_value(f: dataclasses.Field, value: Any, name: str) -> None:
    meta = f.metadata
    values = value if isinstance(value, (tuple, list, frozenset, set)) else [value]
    for v in values:
        if v is None:
            continue
        if meta.get("choices") is not None and v not in meta["choices"]:
            allowed = ", ".join(map(str, meta["choices"]))
            raise ConfigError(f"{v!r} is not allowed", f"choose from {allowed}", field=name)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            lo, hi, above = meta.get("min"), meta.get("max"), meta.get("above")
            if (lo is not None and v < lo) or (hi is not None and v > hi) or (above is not None and v <= above):
                raise ConfigError(f"{v} is out of range", f"allowed: {describe_range(meta)}", field=name)


def describe_range(meta: dict) -> str:
    lo, hi, above = meta.get("min"), meta.get("max"), meta.get("above")
    if lo is not None and hi is not None:
        return f"{lo} to {hi}"
    if above is not None:
        return f"> {above}" + (f" and <= {hi}" if hi is not None else "")
    if lo is not None:
        return f">= {lo}"
    return f"<= {hi}"


def require(ok: bool, field: str, what: str, hint: str = "") -> None:
    """For ``validate()`` hooks: raise ConfigError on ``field`` unless ``ok``."""
    if not ok:
        raise ConfigError(what, hint, field=field)


# ----------------------------------------------------------------------------------- flags


def leaf_fields(cls: type, prefix: str = "") -> list[tuple[str, Any, dataclasses.Field, Any]]:
    """``(dotted name, type, field, default)`` of every flag-able leaf, recursing into sections."""
    out = []
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if not f.metadata.get("flag", True):
            continue
        tp, name = hints[f.name], f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            out += leaf_fields(tp, f"{name}.")
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = dataclasses.MISSING
        out.append((name, tp, f, default))
    return out


def _shown(value: Any) -> str:
    if value is dataclasses.MISSING:
        return "required"
    if value is None:
        return "none"
    value = to_dict(value)
    if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
        return ",".join(map(str, value)) or "''"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return "''" if value == "" else str(value)


def _help_line(f: dataclasses.Field, default: Any) -> str:
    meta = f.metadata
    text = meta.get("help", "")
    if meta.get("choices") is not None:
        text += f" [{' | '.join(map(str, meta['choices']))}]"
    elif any(meta.get(k) is not None for k in ("min", "max", "above")):
        text += f" [{describe_range(meta)}]"
    return f"{text} (default: {_shown(default)})".strip().replace("%", "%%")


def add_flags(parser: argparse.ArgumentParser, cls: type, *, defaults: Any = None) -> None:
    """One flag per leaf field of ``cls``, grouped by section; help shows ``defaults``' values."""
    groups: dict[str, Any] = {}
    for name, tp, f, default in leaf_fields(cls):
        if defaults is not None:
            default = _get_path(defaults, name)
        sect = name.rsplit(".", 1)[0] if "." in name else ""
        if sect not in groups:
            groups[sect] = parser.add_argument_group(f"--{sect}.* options" if sect else "settings")
        kwargs: dict[str, Any] = {"dest": _PREFIX + name, "default": argparse.SUPPRESS,
                                  "metavar": _type_name(tp), "help": _help_line(f, default)}
        if tp is bool:
            kwargs.update(nargs="?", const="true")
        groups[sect].add_argument(f"--{name}", type=str, **kwargs)


def _get_path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def flag_names(cls: type) -> list[str]:
    return [f"--{name}" for name, *_ in leaf_fields(cls)]


def overrides(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The config flags that were given -> a nested patch dict of parsed values."""
    types_ = {name: tp for name, tp, _, _ in leaf_fields(cls)}
    patch: dict[str, Any] = {}
    for dest, text in vars(args).items():
        if not dest.startswith(_PREFIX):
            continue
        name = dest[len(_PREFIX):]
        try:
            value = parse_text(types_[name], text)
        except ValueError as e:
            raise ConfigError(str(e), field=name) from None
        node = patch
        *parents, leaf = name.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return patch


def resolve(cls: type[T], args: argparse.Namespace | None = None, *, base: T | None = None,
            data: dict[str, Any] | None = None) -> T:
    """Defaults (or ``base``, e.g. a preset) -> ``data`` (a config file's) -> flags -> :func:`check`."""
    cfg = copy.deepcopy(base) if base is not None else cls()
    if data:
        cfg = merge(cfg, data)
    if args is not None:
        cfg = merge(cfg, overrides(cls, args))
    return check(cfg)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the kit's conventions: no abbreviations (a misspelt option is an error,
    never a guess at a longer one), and errors raised as a one-line UsageError."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> typing.NoReturn:
        raise UsageError(message, f"see {self.prog} --help")

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        parsed, rest = self.parse_known_args(args, namespace)
        if rest:
            if not rest[0].startswith("-"):
                raise UsageError(f"unexpected argument {rest[0]!r}", f"see {self.prog} --help")
            raise unknown_option_error(rest[0], [o for o in self._option_string_actions if o.startswith("--")])
        return parsed


def unknown_option_error(arg: str, known: Iterable[str]) -> ConfigError:
    """A ConfigError for an unknown flag, with the closest known one suggested."""
    flag = arg.split("=", 1)[0]
    known = list(known)
    close = difflib.get_close_matches(flag.replace("-", "_").lstrip("_"),
                                      [k.lstrip("-") for k in known], n=1, cutoff=0.6)
    hint = f"did you mean --{close[0]}?" if close else "see --help"
    return ConfigError(f"unknown option {flag}", hint)


# --------------------------------------------------------------------------------- presets


class Presets:
    """Named configs (the one preset mechanism). ``get`` hands out deep copies, so a caller
    never changes the registry; an unknown name is a ConfigError listing the known ones."""

    def __init__(self, what: str, items: dict[str, Any]) -> None:
        self.what, self._items = what, dict(items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self):
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        return sorted(self._items)

    def get(self, name: str) -> Any:
        if name not in self._items:
            raise ConfigError(f"unknown {self.what} preset {name!r}", f"known: {', '.join(self.names())}")
        return copy.deepcopy(self._items[name])

    def add(self, name: str, value: Any) -> None:
        """Register a preset (benchmarks and tests add their own shapes)."""
        self._items[name] = value
