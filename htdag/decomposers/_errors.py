"""The LLM decomposer's errors: each says what to fix."""

from __future__ import annotations

from typing import Any

from ..core.errors import HtdagError, NonRetryableError
from .base import NoDecomposition


class DecompositionFailed(NoDecomposition):
    """The model gave no valid plan within its repair rounds. ``attempts`` holds
    every attempt: its answer (cut to a readable length) and the validator's
    errors; the message ends with the last attempt's errors."""

    def __init__(self, message: str, attempts: list[dict[str, Any]] | None = None) -> None:
        self.attempts = list(attempts or [])
        super().__init__(message)


class GoalTooLong(NoDecomposition):
    """The goal is longer than the decomposer's limit (``max_goal_chars``)."""


class EmptyCatalogue(NoDecomposition):
    """There is no handler to plan over: register handlers (``@htdag.handler``) or
    pass a HandlerRegistry as the catalogue."""


class LLMConfigurationError(HtdagError, ValueError):
    """The LLM decomposer is not configured: give a model (``model=`` or
    HTDAG_LLM_MODEL)."""


class UnknownModelError(LLMConfigurationError):
    """litellm does not know the model: check its name, prefix it with its
    provider (``anthropic/...``, ``ollama/...``) or, for an OpenAI-compatible
    server, use ``openai/<name>`` with ``api_base``."""


class LLMProviderError(NonRetryableError):
    """The model's provider kept failing (rate limit, server error, timeout or
    connection refused) after every retry."""
