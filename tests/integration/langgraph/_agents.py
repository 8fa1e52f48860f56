"""A scripted chat model and the smallest tool-calling agent graph, for tests of
htdag's LangGraph integration without any model provider.

ScriptedChatModel is a BaseChatModel whose replies are functions of the messages
it is shown (so a reply can quote a tool's result); ``bind_tools`` keeps the
tools' names so a test can check what the agent was offered."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from pydantic import Field

Reply = Callable[[list[BaseMessage]], AIMessage]


class ScriptedChatModel(BaseChatModel):
    """Answers with ``script[i]`` of the messages on its i-th call; fails when the
    script runs out (a test that loops forever fails instead)."""

    script: list[Reply]
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[str] = Field(default_factory=list)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        if len(self.calls) >= len(self.script):
            raise AssertionError(f"the model was called {len(self.calls) + 1} times, "
                                 f"its script has {len(self.script)} replies")
        reply = self.script[len(self.calls)](messages)
        self.calls.append(list(messages))
        return ChatResult(generations=[ChatGeneration(message=reply)])

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None,
                   **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        self.bound_tools = [t.name if isinstance(t, BaseTool) else str(t) for t in tools]
        return self


def call_tool(name: str, **args: Any) -> Reply:
    """A reply that calls tool ``name`` with ``args``."""
    def reply(messages: list[BaseMessage]) -> AIMessage:
        return AIMessage("", tool_calls=[{"name": name, "args": args,
                                          "id": f"call-{len(messages)}"}])
    return reply


def answer_with_tool_result(messages: list[BaseMessage]) -> AIMessage:
    """A final answer quoting the last tool message."""
    result = next(m for m in reversed(messages) if isinstance(m, ToolMessage))
    return AIMessage(f"The result was: {result.content}")


def agent_graph(model: ScriptedChatModel, tools: list[BaseTool]
                ) -> CompiledStateGraph[Any, Any, Any, Any]:
    """model -> tools -> model ... until the model answers without a tool call
    (with invoke and with ainvoke)."""
    bound = model.bind_tools(tools)

    def call_model(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"], config)]}

    async def acall_model(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        return {"messages": [await bound.ainvoke(state["messages"], config)]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", RunnableLambda(call_model, afunc=acall_model))
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition, ["tools", END])
    graph.add_edge("tools", "model")
    return graph.compile()
