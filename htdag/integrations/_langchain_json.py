"""What a LangGraph graph returns, as JSON an htdag task can store: LangChain
messages become compact dicts that LangChain reads back (``convert_to_messages``,
LangGraph's ``add_messages``), pydantic models and dataclasses become objects,
tuples become lists; anything else is refused with the path of the value."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel

from .errors import GraphStateNotJSON

# A message's fields that are kept even when empty: what makes it a message.
_MESSAGE_CORE = ("type", "content")


def message_to_dict(message: BaseMessage) -> dict[str, Any]:
    """``{"type": "ai", "content": ..., "tool_calls": [...], "id": ...}``: the
    message's fields without the empty ones (LangChain reads it back as the
    same kind of message)."""
    fields = message.model_dump(mode="json")
    return {k: v for k, v in fields.items()
            if k in _MESSAGE_CORE or v not in (None, {}, [])}


def to_json(value: Any, path: str = "$") -> Any:
    """``value`` as JSON values (see the module's docstring); raises
    GraphStateNotJSON naming ``path`` (``$.messages[2]``) of the first value
    that is not."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise GraphStateNotJSON(f"{path} is {value}, which JSON cannot hold")
        return value
    if isinstance(value, BaseMessage):
        return message_to_dict(value)
    if isinstance(value, BaseModel):
        return to_json(value.model_dump(mode="json"), path)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name), f"{path}.{f.name}")
                for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise GraphStateNotJSON(f"{path} has the key {key!r}, which is not a string; "
                                        "JSON object keys are strings")
            out[key] = to_json(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [to_json(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise GraphStateNotJSON(f"{path} is a {type(value).__module__}.{type(value).__qualname__}, "
                            "which is not JSON")
