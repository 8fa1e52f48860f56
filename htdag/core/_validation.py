"""The one way a pydantic ValidationError becomes a message: every problem,
each as ``location: what is wrong (got value)``."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails

_MAX_SHOWN = 60  # characters of an offending value worth showing


def describe_validation_error(error: ValidationError, *, root: str | None = None) -> str:
    """All of ``error``'s problems joined by "; ". ``root`` names the location of
    a problem with the whole object (default: the model's name; "": none)."""
    return "; ".join(_describe(detail, error.title if root is None else root)
                     for detail in error.errors(include_url=False))


def _describe(detail: ErrorDetails, root: str) -> str:
    where = ".".join(str(part) for part in detail["loc"]) or root
    message = detail["msg"]
    if detail["type"] == "value_error":
        # A validator's own message says what to fix; pydantic's prefix adds nothing.
        message = message.removeprefix("Value error, ")
    value = detail.get("input")
    # Only a plain value helps: a whole object (a missing field's parent, say)
    # would bury the message.
    if detail["type"] != "missing" and (value is None or isinstance(value, str | int | float)):
        shown = repr(value)
        if len(shown) > _MAX_SHOWN:
            shown = shown[:_MAX_SHOWN - 3] + "..."
        message = f"{message} (got {shown})"
    return f"{where}: {message}" if where else message
