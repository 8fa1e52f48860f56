"""What a graph returns becomes JSON an htdag task can store (messages as dicts
LangChain reads back), or is refused naming where; the integration is set up
only as it can work; ``import htdag`` imports no LangGraph. Pure logic: no
database."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import uuid
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    convert_to_messages,
)
from pydantic import BaseModel

from htdag.core.context import TaskContext
from htdag.integrations._langchain_json import message_to_dict, to_json
from htdag.integrations.errors import GraphStateNotJSON, LangGraphIntegrationError
from htdag.integrations.langgraph import htdag_tool, langgraph_handler


def test_messages_become_compact_dicts_that_langchain_reads_back() -> None:
    messages = [
        SystemMessage("be brief"), HumanMessage("hi", id="h1"),
        AIMessage("", tool_calls=[{"name": "t", "args": {"a": 1}, "id": "c1"}]),
        ToolMessage("out", tool_call_id="c1", name="t", status="error")]
    dicts = [message_to_dict(m) for m in messages]
    assert dicts[0] == {"type": "system", "content": "be brief"}
    assert dicts[1] == {"type": "human", "content": "hi", "id": "h1"}
    assert dicts[2] == {"type": "ai", "content": "",
                        "tool_calls": [{"name": "t", "args": {"a": 1}, "id": "c1",
                                        "type": "tool_call"}]}
    assert dicts[3]["status"] == "error" and dicts[3]["tool_call_id"] == "c1"
    assert convert_to_messages(dicts) == messages


class Note(BaseModel):
    text: str
    tags: tuple[str, ...] = ()


@dataclasses.dataclass
class Point:
    x: float
    label: Note


def test_models_dataclasses_and_tuples_become_objects_and_lists() -> None:
    state: dict[str, Any] = {"point": Point(1.5, Note(text="a", tags=("x",))),
                             "pair": (1, None), "messages": [HumanMessage("q")], "ok": True}
    assert to_json(state) == {"point": {"x": 1.5, "label": {"text": "a", "tags": ["x"]}},
                              "pair": [1, None], "messages": [{"type": "human", "content": "q"}],
                              "ok": True}


@pytest.mark.parametrize(("state", "where"), [
    ({"a": [1, {2, 3}]}, "$.a[1] is a builtins.set, which is not JSON"),
    ({"n": float("nan")}, "$.n is nan, which JSON cannot hold"),
    ({"by_id": {1: "x"}}, "$.by_id has the key 1, which is not a string"),
    ({"id": uuid.UUID(int=1)}, "$.id is a uuid.UUID, which is not JSON"),
])
def test_a_value_that_is_not_json_is_refused_naming_where(state: Any, where: str) -> None:
    with pytest.raises(GraphStateNotJSON) as info:
        to_json(state)
    assert str(info.value).startswith(where)


def test_the_integration_refuses_what_cannot_work() -> None:
    with pytest.raises(LangGraphIntegrationError, match="compiled graph"):
        langgraph_handler(lambda state: state, name="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout must be a number of seconds > 0"):
        htdag_tool(timeout=0)
    ctx = TaskContext(uuid.uuid4(), "s", 0, 1, 1, engine=None,  # type: ignore[arg-type]
                      logger=None)  # type: ignore[arg-type]
    with pytest.raises(LangGraphIntegrationError, match="both ctx and engine"):
        htdag_tool(ctx=ctx, engine=object())  # type: ignore[arg-type]


async def test_a_tool_call_without_a_goal_is_told_what_to_give() -> None:
    tool = htdag_tool()
    told = await tool.ainvoke({"goal": "  "})
    assert told.startswith("htdag error: give either `goal`")
    told = await tool.ainvoke({"graph": "{not json"})
    assert told.startswith("htdag error: the task graph is not valid, so no run was started")
    told = await tool.ainvoke({"goal": 3})
    assert told.startswith("htdag error: the tool's arguments are not valid")


def test_import_htdag_imports_no_langgraph() -> None:
    code = ("import sys, htdag; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('langgraph', 'langchain_core')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
