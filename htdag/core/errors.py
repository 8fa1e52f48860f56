"""One root exception, typed subclasses whose messages say what to fix.

SQL functions raise their own SQLSTATE codes (class ``HT``); :func:`from_db_error`
is the one place that maps them to Python exceptions.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HtdagError(Exception):
    """Something went wrong in htdag."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


# Definitions -----------------------------------------------------------------


class InvalidFlow(HtdagError, ValueError):
    """The flow definition is invalid; fix the step named in the message."""


class FlowCycleError(InvalidFlow):
    """The steps depend on each other in a cycle."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__(
            "steps form a cycle: " + " -> ".join(cycle) + "; remove one of these dependencies"
        )


class UnknownDependencyError(InvalidFlow):
    """A step depends on a step the flow does not define."""


class DuplicateStepError(InvalidFlow):
    """Two steps share a name."""


class MapStepDependencyError(InvalidFlow):
    """A map step has more than one dependency."""


class InvalidOptionError(InvalidFlow):
    """A step option is out of range."""


class InvalidInput(HtdagError, ValueError):
    """The run input is not JSON: pass dicts, lists, strings, numbers, booleans or None."""


# Lookups ---------------------------------------------------------------------


class UnknownFlowError(HtdagError, LookupError):
    """No flow with that name or hash is stored: start it from a Flow object, or check the name."""


class UnknownRunError(HtdagError, LookupError):
    """No run has that id: check it with `htdag runs` or engine.list_runs()."""


class UnknownHandlerError(HtdagError, LookupError):
    """A step names a handler this worker does not have: register it or import its module."""


# Runs ------------------------------------------------------------------------


class RunFailed(HtdagError):
    """A run failed."""

    def __init__(self, run_id: Any, step: str | None, task_index: int | None, message: str) -> None:
        self.run_id = run_id
        self.step = step
        self.task_index = task_index
        self.error = message
        where = f"step {step!r}" if step else "the run"
        if task_index is not None and step:
            where += f" (task {task_index})"
        super().__init__(f"run {run_id} failed in {where}: {message}")


class RunCancelled(HtdagError):
    """The run was cancelled before it completed."""

    def __init__(self, run_id: Any) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id} was cancelled")


class WaitTimeout(HtdagError, TimeoutError):
    """The run did not finish within the timeout; it goes on running (wait again or cancel it)."""

    run_id: Any = None


# Handlers --------------------------------------------------------------------


class NonRetryableError(HtdagError):
    """Raise this from a handler to fail the task at once, without retries."""

    # The failure's typed code in the database (htdag.error_code), or None.
    error_code: ClassVar[str | None] = None


class SubgoalLimitError(NonRetryableError):
    """A subgoal would exceed the depth limit or the task budget of its root run."""

    # Its run fails with this code, and so the task waiting for that run, at every
    # level: a retry would hit the limit again.
    error_code: ClassVar[str | None] = "limit_reached"


class TaskCancelled(HtdagError):
    """The task's run was cancelled; the handler should stop."""


class EventLoopStopped(HtdagError):
    """htdag's event loop thread has stopped: restart the process (in Jupyter, the kernel)."""


# Database --------------------------------------------------------------------


class DatabaseError(HtdagError):
    """The database refused the operation; the message says why."""


class EmbeddedServerError(HtdagError):
    """The embedded PostgreSQL could not start: see its log, or set HTDAG_DATABASE_URL."""


def from_db_error(error: Exception) -> Exception:
    """Maps a psycopg error raised by an htdag SQL function to a typed exception."""
    sqlstate = getattr(error, "sqlstate", None)
    diag = getattr(error, "diag", None)
    message = getattr(diag, "message_primary", None) or str(error)
    if sqlstate == "HT001":
        return UnknownFlowError(f"{message}: store it with engine.start(flow) or check the name")
    if sqlstate == "HT002":
        return UnknownRunError(f"{message}: check the id with engine.list_runs()")
    if sqlstate == "HT003":
        hint = getattr(diag, "message_hint", None)
        return SubgoalLimitError(f"{message}; {hint}" if hint else message)
    if sqlstate in ("22P05", "22021"):  # untranslatable character: a NUL in text or JSON
        return InvalidInput(f"a value has a character PostgreSQL cannot store ({message}); "
                            "remove NUL characters (\\u0000) from inputs and names")
    if sqlstate == "22P02" and "uuid" in message:
        return UnknownRunError(f"{message}: a run id is a UUID")
    return error
