"""The Planner is an explicit object: its decomposer, catalogue and limits are
its own, two planners in one process do not share them, it plans the subgoals
of the tasks its workers run, and importing htdag installs no planning state."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

import htdag
import htdag.errors
from htdag import Planner
from htdag.core.engine import AsyncEngine
from htdag.decomposers import Rule, RuleDecomposer
from htdag.errors import RunFailed
from htdag.handlers import HandlerRegistry

from .._support import running_worker
from ._planning import World


def _greeter(greeting: str) -> Planner:
    registry = HandlerRegistry()

    @registry.handler("greet", description="Greets someone.")
    def greet(name: str) -> str:
        return f"{greeting}, {name}"

    rules = RuleDecomposer([Rule("greet", {"tasks": [
        {"id": "hello", "handler": "greet", "params": {"name": "{who}"}}]},
        pattern=r"^greet (?P<who>\w+)$")])
    return Planner(rules, registry)


async def test_a_planner_composes_goals_graphs_and_many_goals(
        engine: AsyncEngine, world: World) -> None:
    planner = Planner(world.rules, world.registry, engine=engine)
    result = await planner.acompose("research pg", timeout=20)
    assert result.output == {"topic": "pg", "sources": ["pg/0", "pg/1", "pg/2"], "words": 6}
    assert result.decomposer == world.rules.name
    graph = {"tasks": [{"id": "v", "handler": "leaf", "params": {"value": 7}}]}
    assert (await planner.acompose_graph(graph, timeout=20)).output == 7
    many = await planner.acompose_many(["leaf a", "leaf b"], timeout=20)
    assert [r.output for r in many] == ["a", "b"]


def test_the_sync_forms_work_with_a_sync_engine(sync_engine: htdag.Engine, world: World) -> None:
    planner = Planner(world.rules, world.registry, engine=sync_engine)
    assert planner.compose("leaf x", timeout=20).output == "x"
    assert [r.output for r in planner.compose_many(["leaf y", "leaf z"], timeout=20)] == [
        "y", "z"]


async def test_two_planners_in_one_process_keep_their_own_catalogues(
        engine: AsyncEngine) -> None:
    # Two catalogues may not serve two functions under one name in one process
    # (handler names are global in a database), so each gets its own database
    # role here: the names differ by planner, and so do the answers.
    english, french = _greeter("hello"), _greeter("bonjour")
    assert (await english.acompose("greet ada", engine=engine, timeout=20)).output == \
        "hello, ada"
    with pytest.raises(htdag.errors.HandlerRegistrationError, match="another name"):
        await french.acompose("greet ada", engine=engine, timeout=20)
    assert english.registry is not french.registry


async def test_limits_are_the_planner_s(engine: AsyncEngine, world: World) -> None:
    tight = Planner(world.rules, world.registry, max_depth=1, engine=engine)
    with pytest.raises(RunFailed, match="the limit is 1"):
        await tight.acompose("nest 3", timeout=20)
    roomy = tight.replace(max_depth=5)
    assert (roomy.max_depth, roomy.registry, roomy.decomposer) == (
        5, tight.registry, tight.decomposer)


async def test_a_worker_without_a_planner_fails_a_subgoal_clearly(engine: AsyncEngine,
                                                                  world: World) -> None:
    flow = htdag.Flow("asks_for_a_subgoal")

    @flow.step(max_attempts=3)
    async def ask(inp: Any, ctx: htdag.TaskContext) -> Any:
        return await ctx.submit_subgoal("leaf q")

    async with running_worker(engine, [flow]):
        with pytest.raises(RunFailed, match=r"no planner for subgoals.*\(attempt 1 of 3\)"):
            await engine.run(flow, None, timeout=20)
    planner = Planner(world.rules, world.registry)
    async with running_worker(engine, [flow, planner.worker_handlers()], subgoals=planner):
        assert await engine.run(flow, None, timeout=20) == {"ask": "q"}


def test_importing_htdag_installs_no_planning_state() -> None:
    code = ("import htdag, htdag.composer as c, htdag.core.context as k, sqlmodel\n"
            "assert c._default is None, 'a default planner was made at import'\n"
            "assert not hasattr(k, 'install_subgoal_submitter')\n"
            "print(len(htdag.__all__))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert int(out) <= 22  # a small root API
