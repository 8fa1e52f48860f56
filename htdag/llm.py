"""The built-in ``llm`` handler: a litellm completion built from the task's
description, its params and its dependencies' outputs. The model is chosen by
complexity (simple / medium / complex, each mapped to a configurable model);
tokens and cost are recorded in the task's output. litellm is imported only
when a task runs (it takes seconds to import)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from .core.errors import NonRetryableError

Complexity = Literal["simple", "medium", "complex"]


def _env_models() -> dict[str, str]:
    return {
        "simple": os.environ.get("HTDAG_LLM_SIMPLE", "gpt-4o-mini"),
        "medium": os.environ.get("HTDAG_LLM_MEDIUM", "gpt-4o-mini"),
        "complex": os.environ.get("HTDAG_LLM_COMPLEX", "gpt-4o"),
    }


@dataclass
class LLMSettings:
    """Models by complexity (env HTDAG_LLM_SIMPLE / _MEDIUM / _COMPLEX), and a
    canned ``mock_response`` for tests and demos (no provider is called)."""

    models: dict[str, str] = field(default_factory=_env_models)
    mock_response: str | None = field(
        default_factory=lambda: os.environ.get("HTDAG_LLM_MOCK_RESPONSE"))
    temperature: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # passed to litellm.acompletion


settings = LLMSettings()


def configure_llm(*, simple: str | None = None, medium: str | None = None,
                  complex: str | None = None, mock_response: str | None = None,
                  temperature: float | None = None, **extra: Any) -> LLMSettings:
    for name, model in (("simple", simple), ("medium", medium), ("complex", complex)):
        if model:
            settings.models[name] = model
    if mock_response is not None:
        settings.mock_response = mock_response
    if temperature is not None:
        settings.temperature = temperature
    settings.extra.update(extra)
    return settings


def build_messages(task_description: str, prompt: str, inputs: Any,
                   system: str | None) -> list[dict[str, str]]:
    parts = [p for p in (task_description.strip(), prompt.strip()) if p]
    if inputs is not None:
        parts.append("Inputs:\n" + json.dumps(inputs, indent=2, default=str))
    if not parts:
        raise NonRetryableError("the llm task has nothing to ask: give it a description, a "
                                "prompt or inputs")
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": "\n\n".join(parts)})
    return messages


async def llm(prompt: str = "", task_description: str = "", inputs: Any = None,
              complexity: Complexity = "medium", model: str | None = None,
              system: str | None = None, max_tokens: int | None = None) -> dict[str, Any]:
    """Ask a language model. ``inputs`` usually references dependency outputs
    ("$research"); the task's description is the instruction."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
    import litellm

    chosen = model or settings.models[complexity]
    kwargs: dict[str, Any] = dict(settings.extra)
    if settings.mock_response is not None:
        kwargs["mock_response"] = settings.mock_response
    if settings.temperature is not None:
        kwargs["temperature"] = settings.temperature
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    response = await litellm.acompletion(
        model=chosen, messages=build_messages(task_description, prompt, inputs, system),
        **kwargs)
    usage = getattr(response, "usage", None)
    try:
        cost: float | None = float(litellm.completion_cost(completion_response=response))
    except Exception:  # noqa: BLE001 - an unknown model has no price; the answer still counts
        cost = None
    return {
        "text": response.choices[0].message.content,
        "model": chosen,
        "complexity": complexity,
        "usage": {
            "prompt_tokens": getattr(usage, "prompt_tokens", None),
            "completion_tokens": getattr(usage, "completion_tokens", None),
            "total_tokens": getattr(usage, "total_tokens", None),
        },
        "cost": cost,
    }
