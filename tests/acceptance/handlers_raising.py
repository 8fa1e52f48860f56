"""Handlers that misbehave, for the tests of poison tasks, loaded by worker
processes (``htdag worker tests/acceptance/handlers_raising.py``) and imported
by the tests for the Flow objects.

``raising_flows`` maps a kind to a flow whose one step raises it (sync and
async forms); ``dies_flow`` ends its worker process outright (``os._exit``), as
a segfaulting extension or an out-of-memory kill would; ``fine_flow`` works."""

from __future__ import annotations

import os
import sys
from typing import Any

import htdag


class CustomBaseException(BaseException):
    """Derives from BaseException, as some libraries' control-flow exceptions do."""


def _raise(kind: str) -> None:
    if kind == "system_exit":
        sys.exit("a library called sys.exit")
    if kind == "keyboard_interrupt":
        raise KeyboardInterrupt("a stray Ctrl-C handler")
    raise CustomBaseException("an escape hatch")


DESCRIBED = {
    "system_exit": "SystemExit: a library called sys.exit",
    "keyboard_interrupt": "KeyboardInterrupt: a stray Ctrl-C handler",
    "custom_base_exception": "CustomBaseException: an escape hatch",
}

raising_flows: dict[tuple[str, str], htdag.Flow] = {}
for _kind in DESCRIBED:
    _sync = htdag.Flow(f"acceptance.raises.{_kind}.sync")
    _async = htdag.Flow(f"acceptance.raises.{_kind}.async")

    def _sync_handler(inp: Any, *, kind: str = _kind) -> None:
        _raise(kind)

    async def _async_handler(inp: Any, *, kind: str = _kind) -> None:
        _raise(kind)

    _sync.add_step("boom", _sync_handler, max_attempts=2, base_delay=0, max_delay=0)
    _async.add_step("boom", _async_handler, max_attempts=2, base_delay=0, max_delay=0)
    raising_flows[_kind, "sync"] = _sync
    raising_flows[_kind, "async"] = _async

# The worker command finds Flow objects among module globals, and HANDLERS.
HANDLERS = {name: fn for flow in raising_flows.values() for name, fn in flow.handlers.items()}

dies_flow = htdag.Flow("acceptance.dies")


@dies_flow.step(max_attempts=3, base_delay=0, max_delay=0)
def die(inp: Any) -> None:
    os._exit(1)


fine_flow = htdag.Flow("acceptance.fine")


@fine_flow.step()
async def fine(inp: Any) -> Any:
    return {"pid": os.getpid(), "input": inp["run"]}
