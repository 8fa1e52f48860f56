"""The errors of htdag's integrations, importable without the frameworks they
bridge (``htdag.integrations.langgraph`` raises them)."""

from __future__ import annotations

from ..core.errors import HtdagError, NonRetryableError


class LangGraphIntegrationError(HtdagError, ValueError):
    """The LangGraph integration was set up or called in a way it cannot work:
    the message says what to change."""


class GraphStateNotJSON(NonRetryableError):
    """A graph's state holds a value htdag cannot store as JSON: return JSON values
    (dicts, lists, strings, numbers, booleans, None, messages) from its nodes."""


class GraphOutputError(NonRetryableError):
    """A graph's final state has no value under the handler's output_key: name a key
    the graph's state has, or leave output_key unset for the whole state."""
