"""Restructuring: which chains of short tasks are fused into one task, which are
not and why (fan-out, fan-in, the graph's output, map, goal and subgoal tasks,
unknown or long predictions, differing options, max_chain), what a fused task
is, and the fused task's handler running its members (pure: no database)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from itertools import pairwise
from typing import Any, cast

import pytest

from htdag.core.context import TaskContext, WaitForRun
from htdag.core.errors import InvalidInput, NonRetryableError
from htdag.core.options import StepOptions
from htdag.graph import TaskGraph, UnresolvedReferenceError
from htdag.handlers import HandlerRegistry
from htdag.optimizer.restructure import (
    FUSED,
    RestructureDecision,
    fuse_short_chains,
    fused_chain_handler,
    fused_members,
)

FAST = {"inc": 0.001, "double": 0.002, "show": 0.01}


def graph(*tasks: dict[str, Any], **extra: Any) -> TaskGraph:
    return TaskGraph.parse({"goal": "g", "tasks": list(tasks), **extra})


def t(task_id: str, handler: str = "inc", after: str | None = None,
      **fields: Any) -> dict[str, Any]:
    """A task; ``after`` names the task whose output is its ``value``."""
    params = {"value": f"${after}"} if after else {"value": 1}
    return {"id": task_id, "handler": handler, "params": params, **fields}


def chain(*ids: str, handler: str = "inc") -> list[dict[str, Any]]:
    return [t(ids[0], handler)] + [t(b, handler, after=a) for a, b in pairwise(ids)]


# --- what is fused -----------------------------------------------------------------


def test_a_chain_between_a_fan_out_and_a_fan_in_is_fused_into_its_last_task() -> None:
    g = graph(t("src", "slow"), t("a", after="src"), t("b", "double", after="a"),
              t("c", "show", after="b"), t("side", "slow", after="src"),
              {"id": "join", "handler": "slow", "params": {"x": ["$c", "$side"]}},
              output="join")
    decision = fuse_short_chains(g, {**FAST, "slow": 1.0})
    assert decision.applied
    assert decision.fused == (("a", "b", "c"),)
    assert decision.saved_hops == 2
    assert decision.reason == ("fused 1 chain (3 tasks -> 1): a>b>c; each task predicted "
                               "under 0.05 s")
    new = decision.graph
    assert [x.id for x in new.tasks] == ["src", "c", "side", "join"]
    fused = new.task("c")
    assert fused.handler == FUSED and fused.kind == "task"
    assert fused.dependencies() == {"src"}  # the first member's, and nothing else
    assert "a > b > c" in fused.description
    members = fused.params["chain"]
    assert [(m["id"], m["handler"]) for m in members] == [
        ("a", "inc"), ("b", "double"), ("c", "show")]
    assert fused_members(fused) == (("a", "inc"), ("b", "double"), ("c", "show"))
    assert fused_members(new.task("join")) == ()
    assert new.output == "join" and new.task("join") == g.task("join")
    assert g.task("a").handler == "inc"  # the given graph is left as it was


def test_references_between_members_are_escaped_so_they_are_not_dependencies() -> None:
    g = graph(t("src", "slow"),
              {"id": "a", "handler": "inc", "params": {"value": "$src.n", "tag": "$$lit"}},
              {"id": "b", "handler": "inc", "params": {"value": ["$a.0", "$$a", "plain"]}})
    fused = fuse_short_chains(g, {**FAST, "slow": 1.0}).graph.task("b")
    members = fused.params["chain"]
    assert members[0]["params"] == {"value": "$$src.n", "tag": "$$$lit"}
    assert members[1]["params"] == {"value": ["$$a.0", "$$$a", "plain"]}
    assert fused.references() == set()
    assert fused.depends_on == ["src"]


def test_two_chains_and_the_reason_names_both() -> None:
    g = graph(*chain("a", "b", "c"), *chain("x", "y"),
              {"id": "end", "handler": "slow", "params": {"v": ["$c", "$y"]}})
    decision = fuse_short_chains(g, {**FAST, "slow": 2.0})
    assert decision.fused == (("a", "b", "c"), ("x", "y"))
    assert decision.saved_hops == 3
    assert decision.reason.startswith("fused 2 chains (5 tasks -> 2): a>b>c, x>y;")
    assert [x.id for x in decision.graph.tasks] == ["c", "y", "end"]


def test_a_long_chain_is_cut_at_max_chain_and_a_lone_remainder_stays() -> None:
    ids = [f"t{i}" for i in range(7)]
    decision = fuse_short_chains(graph(*chain(*ids)), FAST, max_chain=3)
    assert decision.fused == (("t0", "t1", "t2"), ("t3", "t4", "t5"))
    new = decision.graph
    assert [x.id for x in new.tasks] == ["t2", "t5", "t6"]
    assert new.task("t5").depends_on == ["t2"]  # the second piece follows the first
    assert new.task("t6").dependencies() == {"t5"}
    assert decision.saved_hops == 4


def test_a_member_may_be_exactly_max_seconds() -> None:
    decision = fuse_short_chains(graph(*chain("a", "b")), {"inc": 0.05})
    assert decision.fused == (("a", "b"),)


def test_options_merge_the_largest_attempts_delays_and_priority_and_sum_timeouts() -> None:
    g = graph(t("a", options={"max_attempts": 2, "timeout": 1.5, "priority": 7}),
              t("b", after="a", options={"max_attempts": 5, "timeout": 0.5, "base_delay": 3.0,
                                         "max_delay": 400.0}),
              t("c", after="b", options={"timeout": 2.0, "priority": -1}))
    fused = fuse_short_chains(g, FAST).graph.task("c")
    assert fused.options == StepOptions(max_attempts=5, timeout=4.0, priority=7,
                                        base_delay=3.0, max_delay=400.0)


def test_a_member_without_a_timeout_leaves_the_fused_task_without_one() -> None:
    g = graph(t("a", options={"timeout": 1.0}), t("b", after="a"))
    assert fuse_short_chains(g, FAST).graph.task("b").options.timeout is None


# --- what is not fused, and why --------------------------------------------------------


def nothing(decision: RestructureDecision, given: TaskGraph) -> str:
    assert not decision.applied
    assert decision.fused == () and decision.saved_hops == 0
    assert decision.graph is given
    return decision.reason


def test_fan_out_is_not_fused() -> None:
    g = graph(t("a"), t("b", after="a"), t("other", "slow", after="a"))
    reason = nothing(fuse_short_chains(g, {**FAST, "slow": 1.0}), g)
    assert reason.startswith("nothing fused: no two short tasks form a chain (a>b: fan-out "
                             "(a is also used by other)")


def test_fan_in_is_not_fused() -> None:
    g = graph(t("a"), t("z", "slow"),
              {"id": "b", "handler": "inc", "params": {"value": "$a", "more": "$z"}})
    reason = nothing(fuse_short_chains(g, {**FAST, "slow": 1.0}), g)
    assert "a>b: fan-in (b also depends on z)" in reason


def test_a_dependency_without_a_reference_counts_as_fan_out_too() -> None:
    g = graph(t("a"), t("b", after="a"), t("c", "slow", depends_on=["a"]))
    reason = nothing(fuse_short_chains(g, {**FAST, "slow": 1.0}), g)
    assert "a>b: fan-out (a is also used by c)" in reason


def test_a_member_that_is_the_graph_s_output_is_not_fused_away() -> None:
    g = graph(*chain("a", "b"), output="a")
    reason = nothing(fuse_short_chains(g, FAST), g)
    assert "a>b: a is the graph's output" in reason


def test_the_output_may_be_the_last_member() -> None:
    decision = fuse_short_chains(graph(*chain("a", "b"), output="b"), FAST)
    assert decision.fused == (("a", "b"),) and decision.graph.output == "b"


def test_map_tasks_are_not_fused() -> None:
    g = graph(t("a"), {"id": "each", "handler": "inc", "map_over": "$a", "map_param": "value"},
              t("b", after="each"))
    reason = nothing(fuse_short_chains(g, FAST), g)
    assert "each: a map task" in reason


def test_goal_tasks_and_subgoal_calls_are_not_fused() -> None:
    g = graph(t("a"), {"id": "sub", "kind": "goal", "description": "do more",
                       "params": {"x": "$a"}},
              {"id": "call", "handler": "subgoal", "params": {"goal": "$sub"}},
              t("b", after="call"))
    reason = nothing(fuse_short_chains(g, {**FAST, "subgoal": 0.001}), g)
    assert "sub: a goal task" in reason and "call: a subgoal" in reason


def test_an_unknown_prediction_is_not_short() -> None:
    g = graph(*chain("a", "b"))
    reason = nothing(fuse_short_chains(g, {"inc": None}), g)
    assert reason == ("nothing fused: no task is predicted under 0.05 s (a: no prediction for "
                      "'inc'; b: no prediction for 'inc')")
    assert not fuse_short_chains(g, {}).applied
    assert not fuse_short_chains(g, {"inc": float("nan")}).applied


def test_a_long_task_breaks_a_chain() -> None:
    g = graph(t("a"), t("b", "slow", after="a"), t("c", after="b"))
    reason = nothing(fuse_short_chains(g, {**FAST, "slow": 0.2}), g)
    assert reason == ("nothing fused: no short task depends on another (b: predicted 0.2 s)")


def test_max_seconds_decides_what_is_short() -> None:
    g = graph(*chain("a", "b", handler="slow"))
    assert not fuse_short_chains(g, {"slow": 0.2}).applied
    assert fuse_short_chains(g, {"slow": 0.2}, max_seconds=0.25).fused == (("a", "b"),)


def test_members_with_other_options_apart_from_the_merged_ones_are_not_fused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # An option the fused task cannot merge (none exists yet besides the merged
    # ones): pretend max_delay is one.
    from htdag.optimizer import restructure

    monkeypatch.setattr(restructure, "MERGED_OPTIONS", restructure.MERGED_OPTIONS - {"max_delay"})
    g = graph(t("a", options={"max_delay": 10.0}), t("b", after="a"))
    assert "a>b: their options differ" in nothing(fuse_short_chains(g, FAST), g)


def test_an_already_fused_graph_is_left_as_it_is() -> None:
    once = fuse_short_chains(graph(*chain("a", "b"), t("c", after="b")), FAST, max_chain=2)
    assert once.fused == (("a", "b"),)
    again = fuse_short_chains(once.graph, {**FAST, FUSED: 0.001})
    assert "b: already fused" in nothing(again, once.graph)


@pytest.mark.parametrize(("options", "message"), [
    ({"max_chain": 1}, "max_chain must be a whole number >= 2"),
    ({"max_chain": True}, "max_chain must be a whole number >= 2"),
    ({"max_seconds": -1.0}, "max_seconds must be a finite number of seconds >= 0"),
    ({"max_seconds": float("inf")}, "max_seconds must be a finite number of seconds >= 0"),
])
def test_bad_limits_say_what_is_allowed(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        fuse_short_chains(graph(*chain("a", "b")), FAST, **options)


# --- the fused task's handler --------------------------------------------------------


def context(step: str, attempt: int = 1) -> TaskContext:
    return TaskContext(run_id=uuid.uuid4(), step=step, task_index=0, attempt=attempt,
                       task_id=1, engine=cast(Any, None), logger=logging.getLogger("test"))


class Tools:
    """A registry of sync and async handlers that record how they were called."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.threads: list[str] = []
        self.registry = HandlerRegistry()
        reg, calls = self.registry, self.calls

        @reg.handler("inc")
        def inc(value: int, ctx: TaskContext) -> int:
            calls.append(("inc", ctx.step))
            return value + 1

        @reg.handler("double")
        async def double(value: int) -> int:
            calls.append(("double", value))
            await asyncio.sleep(0)
            return value * 2

        @reg.handler("pair")
        def pair(value: Any, task_description: str) -> tuple[Any, str]:
            calls.append(("pair", task_description))
            return (value, task_description)

        @reg.handler("echo")
        async def echo(value: Any) -> dict[str, Any]:
            calls.append(("echo", value))
            return {"got": value, "type": type(value).__name__}

        @reg.handler("boom")
        async def boom(value: Any) -> None:
            raise RuntimeError(f"boom at {value}")

        @reg.handler("child")
        def child(value: Any) -> WaitForRun:
            return WaitForRun(uuid.UUID(int=value))


def fused_input(g: TaskGraph, step: str, outputs: dict[str, Any]) -> dict[str, Any]:
    """The input a worker hands the fused task (as build_flow lays out run params)."""
    return {"run": {"params": {step: g.task(step).params}}, **outputs}


async def test_the_handler_runs_sync_and_async_members_in_order_with_resolved_params() -> None:
    tools = Tools()
    g = graph(t("src", "slow"), t("a", "inc", after="src"), t("b", "double", after="a"),
              {"id": "p", "handler": "pair", "description": "$ label",
               "params": {"value": ["$b", "$$b"]}},
              {"id": "e", "handler": "echo", "params": {"value": "$p"}})
    fused = fuse_short_chains(g, {**FAST, "pair": 0.001, "echo": 0.001}).graph
    assert fused.task("e").handler == FUSED
    out = await fused_chain_handler(tools.registry)(fused_input(fused, "e", {"src": 4}),
                                                    context("e"))
    # (4 + 1) * 2 = 10; pair's tuple reaches echo as a list, as through the database.
    assert out == {"got": [[10, "$b"], "$ label"], "type": "list"}
    assert tools.calls == [("inc", "e"), ("double", 5), ("pair", "$ label"),
                           ("echo", [[10, "$b"], "$ label"])]


async def test_a_member_that_raises_fails_the_fused_task_with_its_error() -> None:
    tools = Tools()
    g = graph(*chain("a", "b"), t("c", "boom", after="b"), t("d", after="c"))
    fused = fuse_short_chains(g, {**FAST, "boom": 0.001}).graph
    with pytest.raises(RuntimeError, match="boom at 3"):
        await fused_chain_handler(tools.registry)(fused_input(fused, "d", {}), context("d"))
    assert [c[0] for c in tools.calls] == ["inc", "inc"]  # d never ran


async def test_a_bad_reference_fails_at_once_as_it_would_unfused() -> None:
    tools = Tools()
    g = graph(t("src", "slow"), {"id": "a", "handler": "inc", "params": {"value": "$src.no"}},
              t("b", after="a"))
    fused = fuse_short_chains(g, {**FAST, "slow": 1.0}).graph
    with pytest.raises(UnresolvedReferenceError, match="has no 'no'"):
        await fused_chain_handler(tools.registry)(fused_input(fused, "b", {"src": {"n": 1}}),
                                                  context("b"))


async def test_only_the_last_member_may_wait_for_a_child_run() -> None:
    tools = Tools()
    last = fuse_short_chains(graph(*chain("a", "b"), t("c", "child", after="b")),
                             {**FAST, "child": 0.001}).graph
    out = await fused_chain_handler(tools.registry)(fused_input(last, "c", {}), context("c"))
    assert out == WaitForRun(uuid.UUID(int=3))
    middle = fuse_short_chains(graph(t("a", "child"), t("b", after="a")),
                               {**FAST, "child": 0.001}).graph
    with pytest.raises(NonRetryableError, match="only the last member of a fused chain may"):
        await fused_chain_handler(tools.registry)(fused_input(middle, "b", {}), context("b"))


async def test_a_member_whose_handler_is_not_registered_fails_before_any_runs() -> None:
    tools = Tools()
    g = fuse_short_chains(graph(*chain("a", "b"), t("c", "gone", after="b")),
                          {**FAST, "gone": 0.001}).graph
    with pytest.raises(NonRetryableError, match="member 'c' calls handler 'gone', which this "
                                                "worker does not have"):
        await fused_chain_handler(tools.registry)(fused_input(g, "c", {}), context("c"))
    assert tools.calls == []
