"""JSON as htdag stores it: compact, no NaN, and no NUL character.

PostgreSQL's text and jsonb cannot hold U+0000. A NUL in a value would reach the
server and come back as an untranslatable-character error naming nothing the
caller wrote; here it is found first, with the path to it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import InvalidInput

NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")  # an escaped NUL, not an escaped backslash


def dumps(value: Any) -> str:
    """Compact JSON; ValueError or TypeError for what JSON cannot hold."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def has_nul(text: str) -> bool:
    """Whether JSON text (from :func:`dumps`) holds a NUL character."""
    return "\\u0000" in text and NUL_ESCAPE.search(text) is not None


def nul_path(value: Any, path: str = "$") -> str | None:
    """The path (``$.a[2].b``) of the first string or key holding a NUL, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key!s}".replace("\x00", "\\u0000")
            if isinstance(key, str) and "\x00" in key:
                return f"{where} (the key)"
            found = nul_path(item, where)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}[{index}]")
            if found:
                return found
    return None


def reject_nul(value: Any, what: str) -> None:
    """Raises InvalidInput when ``value`` holds a NUL character; ``what`` names it
    for the caller ("the run input", "the goal")."""
    where = nul_path(value)
    if where is not None:
        at = "" if where == "$" else f" at {where}"
        raise InvalidInput(
            f"{what} has a NUL character (\\u0000){at}, which PostgreSQL cannot store: "
            "remove it, or encode binary data (for example as base64)")


def input_json(value: Any, what: str = "the run input") -> str:
    """``value`` as JSON text for the database, or InvalidInput saying what to fix."""
    try:
        text = dumps(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} is not JSON ({exc}); pass dicts, lists, strings, "
                           "numbers, booleans or None") from None
    if has_nul(text):
        reject_nul(value, what)
        raise InvalidInput(f"{what} has a NUL character (\\u0000), which PostgreSQL cannot "
                           "store: remove it")
    return text
