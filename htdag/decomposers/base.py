"""The decomposer interface."""

from __future__ import annotations

from typing import Any

from ..core.errors import NonRetryableError
from ..graph import TaskGraph


class NoDecomposition(NonRetryableError):
    """No decomposer could turn the goal into a task graph: add a rule, or use an LLM decomposer."""


class Decomposer:
    """``decompose(goal, context) -> TaskGraph``. ``context`` carries the handler
    catalogue (``context["catalogue"]``) and anything the caller adds."""

    name = "decomposer"

    async def decompose(self, goal: str, context: dict[str, Any]) -> TaskGraph:
        raise NotImplementedError
