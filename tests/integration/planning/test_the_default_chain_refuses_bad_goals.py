"""Bad goals through the default chain (rules, then the plan cache): a typed
error that says what to fix, nothing stored that should not be, and the
database unharmed."""

from __future__ import annotations

import pytest

from htdag import Planner
from htdag.core.engine import AsyncEngine
from htdag.decomposers import NoDecomposition, default_decomposer
from htdag.errors import InvalidInput

from .._support import Db
from ._planning import World


@pytest.fixture
def planner(engine: AsyncEngine, world: World, monkeypatch: pytest.MonkeyPatch) -> Planner:
    monkeypatch.delenv("HTDAG_LLM_MODEL", raising=False)
    return Planner(default_decomposer(rules=world.rules), world.registry, engine=engine)


@pytest.mark.parametrize("goal", ["", "   \n"])
async def test_an_empty_goal_says_what_to_do(planner: Planner, goal: str) -> None:
    with pytest.raises(NoDecomposition, match="the goal is empty"):
        await planner.acompose(goal)


async def test_a_goal_of_100_kb_is_declined_not_a_crash(planner: Planner, db: Db) -> None:
    goal = "summarize this: " + "lorem ipsum " * 8_500  # about 100 KB

    with pytest.raises(NoDecomposition, match="no decomposer could plan"):
        await planner.acompose(goal)

    [event] = await db.rows("select data from htdag.events where kind = 'decomposition.failed'")
    assert len(event["data"]["goal"]) <= 200  # the event keeps the start of it


async def test_sql_in_a_goal_is_data(planner: Planner, db: Db) -> None:
    goal = "research x'); drop table htdag.runs; --"

    result = await planner.acompose(goal, timeout=20)

    assert result.output["topic"] == "x'); drop table htdag.runs; --"
    assert await db.value("select count(*) from htdag.runs") == 1


async def test_a_nul_in_a_goal_is_invalid_input(planner: Planner, db: Db) -> None:
    with pytest.raises(InvalidInput, match="NUL"):
        await planner.acompose("research a\x00b")

    assert await db.value("select count(*) from htdag.events") == 0
