"""Events: every state change is a row in ``htdag.events``, announced with
NOTIFY and streamed gap-free by :func:`listen` (see sql/schema/04_events.sql)."""

from .events import Event, EventKind, UnknownEventKindError, parse_kinds
from .sinks import EventForwarder, EventSink, ForwarderStats, SinkError, WebhookSink
from .stream import (
    UnknownEventError,
    aget_recent_events,
    alisten,
    aprune_events,
    aset_task_events,
    get_recent_events,
    listen,
    prune_events,
    set_task_events,
)

__all__ = [
    "Event", "EventKind", "UnknownEventKindError", "UnknownEventError", "parse_kinds",
    "listen", "alisten", "get_recent_events", "aget_recent_events",
    "prune_events", "aprune_events", "set_task_events", "aset_task_events",
    "EventSink", "WebhookSink", "EventForwarder", "ForwarderStats", "SinkError",
]
