"""Validation errors in the words of someone editing YAML, not pydantic's."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any

MAX_SHOWN = 40

# What a value should be, by pydantic's error type.
_SHOULD_BE = {
    "dict_type": "a mapping (`key: value` lines indented under it)",
    "model_type": "a mapping (`key: value` lines indented under it)",
    "model_attributes_type": "a mapping (`key: value` lines indented under it)",
    "list_type": "a list (`- item` lines, or `[a, b]`)",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
}


# pydantic's bound errors, and the bound's key in the error's context (`ge`, `le`, ...).
_BOUNDS = {
    "greater_than": ("more than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def describe(error: Mapping[str, Any], allowed: Collection[str] = ()) -> str:
    """One pydantic error as a sentence about the YAML value; `allowed` are the keys that
    may stand where an unknown key was written (for a "did you mean")."""
    kind = str(error.get("type", ""))
    value = error.get("input")
    if kind in _SHOULD_BE:
        return f"should be {_SHOULD_BE[kind]}, not {_shown(value)}"
    if kind == "extra_forbidden":
        key = str(error.get("loc", ("?",))[-1])
        close = difflib.get_close_matches(key, list(allowed), n=1)
        return f"{key!r} is not a key here" + (f"; did you mean {close[0]!r}?" if close else "")
    if kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        limit = (error.get("ctx") or {}).get(key)
        if limit is not None:
            return f"{_shown(value)} is out of range: it should be {words} {limit}"
    return str(error.get("msg", "")).removeprefix("Value error, ")
