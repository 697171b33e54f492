"""A model file's config, checked before anything is built from it.

A file's config is data from outside: `"channels": "abc"` or `2.5` layers would fail deep inside torch, a
1e9-word vocabulary or 2**31 widths would ask for terabytes, and `prior_steps: 1e9` would hang generation.
Every field of ModelConfig is checked by its annotated type (so fields added later are checked too), and
against BOUNDS where the table knows it.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, NamedTuple

from .model import ModelConfig


class Bound(NamedTuple):
    low: float  # inclusive; for a tuple field, each entry's bounds
    high: float
    length: tuple[int, int] | None = None  # for a tuple field: how many entries


# The one table of sane sizes: far beyond any model ArtGen trains (the "large" preset, a 10,000-word
# vocabulary), far below what would exhaust a machine's memory or patience.
BOUNDS: dict[str, Bound] = {
    "image_size": Bound(8, 1024),
    "channels": Bound(1, 2048, length=(1, 8)),
    "decoder_channels": Bound(1, 2048, length=(0, 8)),
    "latent_dim": Bound(1, 65_536),
    "latent_channels": Bound(0, 1024),
    "vocab_size": Bound(0, 200_000),
    "text_dim": Bound(1, 4096),
    "text_layers": Bound(0, 64),
    "text_heads": Bound(1, 128),
    "prefix_tokens": Bound(1, 256),
    "max_caption_tokens": Bound(1, 1024),
    "prior_hidden": Bound(1, 16_384),
    "prior_layers": Bound(0, 64),
    "prior_steps": Bound(1, 256),  # Heun steps per picture: the defaults are 8 and 16
    "prior_bank": Bound(0, 1_000_000),
    "prior_bandwidth": Bound(0.0, 100.0),
}


class ConfigError(ValueError):
    """A config field of the wrong type or out of range; the message names the field."""


def check_config(raw: Any, cls: type = ModelConfig) -> None:
    """Raises ConfigError unless `raw` (a config's parsed JSON) has only known fields, each of its
    annotated type and within BOUNDS. Absent fields take the dataclass defaults."""
    if not isinstance(raw, dict):
        raise ConfigError("the config is not a table of settings")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(str(k) for k in raw if k not in names)
    if unknown:
        raise ConfigError(f"unknown config fields: {', '.join(unknown)} (made by a newer ArtGen?)")
    for name, value in raw.items():
        tp = hints.get(name)
        if tp is not None and not _matches(value, tp):
            raise ConfigError(f"config field {name} must be {_describe(tp)}, not {_show(value)}")
        bound = BOUNDS.get(name)
        if bound is not None:
            _check_bound(name, value, bound)


def _check_bound(name: str, value: Any, bound: Bound) -> None:
    if isinstance(value, (list, tuple)):
        lo, hi = bound.length or (0, math.inf)
        if not lo <= len(value) <= hi:
            raise ConfigError(f"config field {name} has {len(value)} entries (allowed: {lo} to {hi})")
        entries = value
    else:
        entries = [value]
    for v in entries:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not bound.low <= v <= bound.high:
            raise ConfigError(f"config field {name} is {_show(v)}, outside the sane range "
                              f"{_num(bound.low)} to {_num(bound.high)}")


def _matches(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return True
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)  # JSON 2.5 or 1e9 is not a count
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if tp is str:
        return isinstance(value, str)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin is typing.Union or origin is types.UnionType:
        return any(_matches(value, a) for a in args)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
        return all(_matches(v, args[0]) for v in value) if args else True
    return True  # an annotation this check does not know: the model's own checks apply


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    simple = {int: "a whole number", float: "a number", str: "text", bool: "true or false", type(None): "empty"}
    if tp in simple:
        return simple[tp]
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is typing.Union or origin is types.UnionType:
        return " or ".join(_describe(a) for a in args)
    if origin in (tuple, list):
        inner = _describe(args[0]) if args else "values"
        return "a list of " + inner.replace("a whole number", "whole numbers").replace("a number", "numbers")
    return str(tp)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _num(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"
