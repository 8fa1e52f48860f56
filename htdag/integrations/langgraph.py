"""LangGraph and htdag, both ways.

* :func:`htdag_tool`: a LangChain tool with which an agent hands a goal in words
  (or a task graph) to htdag and awaits its output: the agent's long work runs as
  a durable, parallel htdag run (a child run of the task, inside an htdag task).
* :func:`langgraph_handler`: a compiled LangGraph graph as an htdag handler (a
  Flow step or a catalogue handler), with htdag's retries, timeouts, events and
  cancellation around its ``ainvoke``.

Only this module imports langgraph and langchain-core; ``import htdag`` does not
import it. The JSON mapping of graph states is in docs/langgraph.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Mapping
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool, ToolException
from langgraph.pregel import Pregel
from pydantic import BaseModel, Field, ValidationError

from ..core._portal import portal
from ..core.context import TaskContext
from ..core.engine import AsyncEngine
from ..core.errors import (
    HtdagError,
    InvalidInput,
    NonRetryableError,
    RunCancelled,
    RunFailed,
    WaitTimeout,
)
from ..core.sync import Engine
from ..graph import TaskGraph
from ..planner import Planner
from ._langchain_json import to_json
from .errors import GraphOutputError, GraphStateNotJSON, LangGraphIntegrationError

__all__ = ["htdag_tool", "langgraph_handler", "LangGraphHandler", "SubgoalRequest",
           "LangGraphIntegrationError", "GraphStateNotJSON", "GraphOutputError"]

# Where langgraph_handler puts the TaskContext in a graph's config, so that an
# htdag_tool called inside the graph submits its goals as subgoals of the task.
CONTEXT_KEY = "htdag_context"

DEFAULT_DESCRIPTION = (
    "Hands a piece of work to htdag, which plans it as a graph of tasks, runs them "
    "durably and in parallel, and returns the result. Give `goal`: what should be done, "
    "in words; or `graph`: a task graph as JSON ({\"goal\": ..., \"tasks\": [...]}). "
    "Returns the result as JSON text, or a message starting with 'htdag error' that says "
    "what went wrong and names the run.")


class SubgoalRequest(BaseModel):
    """The arguments of :func:`htdag_tool`, as the model sees them."""

    goal: str | None = Field(None, description="What should be done, in words.")
    graph: dict[str, Any] | str | None = Field(
        None, description="Instead of a goal: a task graph as JSON, "
                          "{\"goal\": ..., \"tasks\": [{\"id\", \"handler\", \"params\"}, ...]}.")


# htdag_tool -------------------------------------------------------------------------


def htdag_tool(planner: Planner | None = None, *, engine: Engine | AsyncEngine | None = None,
               ctx: TaskContext | None = None, name: str = "htdag_subgoal",
               description: str = DEFAULT_DESCRIPTION, timeout: float | None = None
               ) -> StructuredTool:
    """A LangChain tool (sync and async) that submits a goal in words, or a task
    graph, to htdag and returns its output as JSON text (the run id and output
    are the tool message's ``artifact``).

    ``planner`` plans and runs it (default: htdag's default planner, as
    ``compose_from_goal`` uses), on ``engine`` (default: the planner's). With
    ``ctx``, the TaskContext of the htdag task the agent runs in, the goal
    becomes a child run of that task instead (``planner`` then plans it, default
    the worker's); the same happens without ``ctx`` when the agent runs as a
    :func:`langgraph_handler`. ``timeout`` bounds the wait, in seconds; the run
    goes on after it. A goal that cannot be planned, a run that fails, is
    cancelled or outlasts the timeout gives the agent an error message naming
    the run (the tool message's status is "error"), never an exception."""
    if timeout is not None and not timeout > 0:
        raise InvalidInput(f"timeout must be a number of seconds > 0 or None, not {timeout!r}")
    if ctx is not None and engine is not None:
        raise LangGraphIntegrationError(
            "htdag_tool got both ctx and engine: a subgoal runs on its task's engine; "
            "pass ctx inside a handler, engine outside one")
    submission = _Submission(planner, engine, ctx, timeout)
    return StructuredTool.from_function(
        func=submission.run_sync, coroutine=submission.arun, name=name,
        description=description, args_schema=SubgoalRequest,
        response_format="content_and_artifact", handle_tool_error=True,
        handle_validation_error=_bad_arguments)


class _Submission:
    """What one htdag_tool does when it is called."""

    def __init__(self, planner: Planner | None, engine: Engine | AsyncEngine | None,
                 ctx: TaskContext | None, timeout: float | None) -> None:
        self.planner = planner
        self.engine = engine
        self.ctx = ctx
        self.timeout = timeout

    async def arun(self, goal: str | None = None,
                   graph: dict[str, Any] | str | None = None, *,
                   config: RunnableConfig) -> tuple[str, dict[str, Any]]:
        # ``config``: LangChain passes the caller's (a parameter typed exactly
        # RunnableConfig): inside langgraph_handler it carries the TaskContext.
        target = _target(goal, graph)
        ctx = self.ctx or _context_of(config)
        if ctx is not None:
            run_id, output = await self._as_subgoal(ctx, target)
        else:
            run_id, output = await self._as_run(target)
        return (json.dumps(output, ensure_ascii=False),
                {"run_id": str(run_id), "status": "completed", "output": output})

    def run_sync(self, goal: str | None = None, graph: dict[str, Any] | str | None = None, *,
                 config: RunnableConfig) -> tuple[str, dict[str, Any]]:
        """The sync form: the async one on the loop it needs (the task's for a
        subgoal, else htdag's own loop)."""
        ctx = self.ctx or _context_of(config)
        if ctx is None and isinstance(self.engine, AsyncEngine):
            raise LangGraphIntegrationError(
                "htdag_tool was called synchronously but was given an AsyncEngine, which "
                "belongs to another event loop: run the agent with ainvoke, or give the tool "
                "a sync engine (htdag.connect())")
        coro = self.arun(goal, graph, config=config)
        if ctx is None:
            return portal().call(coro)
        loop = ctx.loop
        if loop is None:
            coro.close()
            raise LangGraphIntegrationError(
                "htdag_tool got a TaskContext that no worker made (it has no event loop): "
                "pass the ctx your handler was called with")
        if _running_loop() is loop:
            coro.close()
            raise LangGraphIntegrationError(
                "htdag_tool was called synchronously on the event loop of its task, which "
                "it would block: in an async handler, run the agent with ainvoke")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    async def _as_run(self, target: str | TaskGraph) -> tuple[uuid.UUID, Any]:
        planner = self.planner or _default_planner()
        try:
            if isinstance(target, TaskGraph):
                result = await planner.acompose_graph(target, engine=self.engine,
                                                      timeout=self.timeout)
            else:
                result = await planner.acompose(target, engine=self.engine,
                                                timeout=self.timeout)
        except HtdagError as exc:
            raise ToolException(_explain(exc, getattr(exc, "run_id", None))) from exc
        return result.run_id, result.output

    async def _as_subgoal(self, ctx: TaskContext, target: str | TaskGraph
                          ) -> tuple[uuid.UUID, Any]:
        try:
            if self.planner is not None:
                child = await self.planner.submit_subgoal(ctx, target, False, {})
            else:
                child = await ctx.submit_subgoal(target, wait=False)
        except HtdagError as exc:
            raise ToolException(_explain(exc, None)) from exc
        assert isinstance(child, uuid.UUID)  # wait=False: the child's id
        try:
            return child, await ctx.engine.wait(child, self.timeout)
        except asyncio.CancelledError:
            # The task's attempt ends (timeout, its run cancelled): its subgoal with it.
            with contextlib.suppress(Exception):
                await asyncio.shield(ctx.engine.cancel(child))
            raise
        except HtdagError as exc:
            raise ToolException(_explain(exc, child)) from exc


def _default_planner() -> Planner:
    from ..composer import default_planner

    return default_planner()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _context_of(config: RunnableConfig | None) -> TaskContext | None:
    """The TaskContext langgraph_handler put in the graph's config, if any."""
    found = ((config or {}).get("configurable") or {}).get(CONTEXT_KEY)
    return found if isinstance(found, TaskContext) else None


def _target(goal: str | None, graph: dict[str, Any] | str | None) -> str | TaskGraph:
    """The goal in words, or the parsed graph; a ToolException says what is wrong."""
    has_goal = isinstance(goal, str) and bool(goal.strip())
    if has_goal == (graph is not None):
        raise ToolException("htdag error: give either `goal` (what should be done, in words) "
                            "or `graph` (a task graph as JSON), not both or neither; no run "
                            "was started")
    if graph is None:
        assert goal is not None
        return goal
    try:
        return TaskGraph.parse(graph if isinstance(graph, Mapping) else json.loads(graph))
    except (ValueError, HtdagError) as exc:  # json's errors and the graph's own
        raise ToolException(f"htdag error: the task graph is not valid, so no run was "
                            f"started: {exc}") from exc


def _explain(exc: HtdagError, run_id: Any) -> str:
    """The message the agent gets for an htdag error, naming the run when there is one."""
    if isinstance(exc, WaitTimeout):
        return (f"htdag error: run {run_id} did not finish within the tool's timeout; it goes "
                f"on running (run id {run_id}): do not submit the goal again")
    if isinstance(exc, RunFailed | RunCancelled):
        return f"htdag error: {exc} (run id {run_id or exc.run_id})"
    if run_id is not None:
        return f"htdag error: run {run_id}: {type(exc).__name__}: {exc}"
    # Planning failed (NoDecomposition, an invalid graph, a limit) or htdag could not
    # start the run: the exception's name and message say which.
    return f"htdag error: no run was started: {type(exc).__name__}: {exc}"


def _bad_arguments(exc: ValidationError | Exception) -> str:
    return (f"htdag error: the tool's arguments are not valid ({exc}); give `goal` as a "
            "string or `graph` as a JSON object")


# langgraph_handler --------------------------------------------------------------------


class LangGraphHandler:
    """An htdag handler that runs a compiled LangGraph graph (``ainvoke``) as one
    task. Use it as a Flow step (``flow.add_step("agent", handler)``) or register
    it in a catalogue (``registry.register(handler)``: one parameter, ``input``).

    Input: as a Flow step, the step's input (``{"run": <run input>, <dependency>:
    <output>, ...}``) gives the run input when the step has no dependencies, else
    the run input (an object) with each dependency's output under its name; in a
    catalogue, the ``input`` parameter. With ``input_key``, the graph gets
    ``{input_key: input}``, else the input itself, which must then be an object
    (the graph's state). Messages go in as dicts: LangGraph's ``add_messages``
    reads them (``{"role": "user", "content": ...}``, or ``{"type": "human", ...}``).

    Output: the graph's final state, or its ``output_key`` value, as JSON:
    messages become dicts (see _langchain_json.message_to_dict); a value that is
    not JSON fails the task at once, naming where it is.

    htdag's retries run the graph again from its input; its timeout and a
    cancelled run cancel ``ainvoke`` (the running nodes get CancelledError).
    Each attempt gets its own LangGraph thread id, and the TaskContext in
    ``config["configurable"]["htdag_context"]``."""

    __name__: str

    def __init__(self, graph: Pregel[Any, Any, Any, Any], name: str, input_key: str | None,
                 output_key: str | None, config: RunnableConfig | None) -> None:
        self.graph = graph
        self.__name__ = name
        self.__doc__ = f"Runs the LangGraph graph {graph.get_name()!r}."
        self.input_key = input_key
        self.output_key = output_key
        self.config = config

    def __repr__(self) -> str:
        return f"<LangGraphHandler {self.__name__!r} running {self.graph.get_name()!r}>"

    async def __call__(self, input: Any = None, ctx: TaskContext | None = None) -> Any:
        state = self._graph_input(input)
        result = await self.graph.ainvoke(state, self._config(ctx))
        if self.output_key is not None:
            if not isinstance(result, Mapping) or self.output_key not in result:
                keys = sorted(result) if isinstance(result, Mapping) else type(result).__name__
                raise GraphOutputError(
                    f"graph {self.__name__!r} has no {self.output_key!r} in its final state "
                    f"({keys}); set output_key to one of its keys, or None for all of it")
            result = result[self.output_key]
        try:
            return to_json(result)
        except GraphStateNotJSON as exc:
            raise GraphStateNotJSON(
                f"graph {self.__name__!r} returned a state htdag cannot store: {exc}; return "
                "JSON values or messages from its nodes, or pick a JSON key with "
                "output_key=...") from None

    def _graph_input(self, value: Any) -> Any:
        if isinstance(value, Mapping) and "run" in value:  # a Flow step's input
            run, outputs = value["run"], {k: v for k, v in value.items() if k != "run"}
            if outputs and not isinstance(run, Mapping | None):
                raise NonRetryableError(
                    f"step of graph {self.__name__!r} has dependencies, so its run input must "
                    f"be an object to add their outputs to, not {type(run).__name__}")
            value = {**(run or {}), **outputs} if outputs else run
        if self.input_key is not None:
            return {self.input_key: value}
        if not isinstance(value, Mapping):
            raise NonRetryableError(
                f"graph {self.__name__!r} got a {type(value).__name__} as input, not an object "
                f"of its state; pass an object, or set input_key= to put the input under one "
                "key of the state")
        return dict(value)

    def _config(self, ctx: TaskContext | None) -> RunnableConfig:
        config: dict[str, Any] = dict(self.config or {})
        config.setdefault("run_name", self.__name__)
        if ctx is None:
            return cast(RunnableConfig, config)
        config["metadata"] = {**(config.get("metadata") or {}), "htdag_run_id": str(ctx.run_id),
                              "htdag_step": ctx.step, "htdag_task_index": ctx.task_index,
                              "htdag_attempt": ctx.attempt}
        configurable = dict(config.get("configurable") or {})
        # A fresh thread per attempt: a retry starts from the input, not from the
        # state an earlier attempt left in a checkpointer.
        configurable.setdefault("thread_id", f"htdag:{ctx.idempotency_key}:{ctx.attempt}")
        configurable[CONTEXT_KEY] = ctx
        config["configurable"] = configurable
        return cast(RunnableConfig, config)


def langgraph_handler(graph: Pregel[Any, Any, Any, Any], *, name: str,
                      input_key: str | None = None, output_key: str | None = None,
                      config: RunnableConfig | None = None) -> LangGraphHandler:
    """An htdag handler named ``name`` that runs ``graph`` (a compiled LangGraph
    graph) as a task; see :class:`LangGraphHandler` for how input and output map
    to JSON. ``config`` is passed to every ``ainvoke`` (recursion_limit, ...)."""
    if not isinstance(graph, Pregel):
        raise LangGraphIntegrationError(
            f"langgraph_handler takes a compiled graph (StateGraph(...).compile()), not "
            f"{type(graph).__name__}")
    if not isinstance(name, str) or not name.strip():
        raise LangGraphIntegrationError("langgraph_handler needs a name: the handler's name "
                                        "in flows and catalogues")
    return LangGraphHandler(graph, name, input_key, output_key, config)
