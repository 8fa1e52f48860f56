"""Events: every state change is a row in ``htdag.events``, announced with NOTIFY
and streamed gap-free by :func:`listen` (``htdag.listen`` at the package root too);
history by :func:`get_recent_events`; forwarding to webhooks by EventForwarder."""

from .notifications import (
    Event,
    EventForwarder,
    EventKind,
    EventSink,
    ForwarderStats,
    WebhookSink,
    aget_recent_events,
    alisten,
    aprune_events,
    aset_task_events,
    get_recent_events,
    listen,
    parse_kinds,
    prune_events,
    set_task_events,
)

__all__ = [
    "Event", "EventKind", "parse_kinds",
    "listen", "alisten", "get_recent_events", "aget_recent_events",
    "prune_events", "aprune_events", "set_task_events", "aset_task_events",
    "EventSink", "WebhookSink", "EventForwarder", "ForwarderStats",
]
