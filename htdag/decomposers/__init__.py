"""Decomposers turn a goal in words into a TaskGraph: by rules, an LLM, or a
cache of earlier plans. They share one interface, :class:`Decomposer`."""

from ._errors import (
    DecompositionFailed,
    EmptyCatalogue,
    GoalTooLong,
    LLMConfigurationError,
    LLMProviderError,
    UnknownModelError,
)
from ._goal import InvalidGoalError
from ._record import DecompositionRecord
from .base import Decomposer, NoDecomposition
from .cache import AsyncPlanCache, CachedDecomposer, CacheHit, PlanCache
from .hybrid import EngineCachedDecomposer, HybridDecomposer, default_decomposer
from .llm import LLMDecomposer
from .rules import Rule, RuleDecomposer, default_rules

__all__ = ["Decomposer", "NoDecomposition", "Rule", "RuleDecomposer", "default_rules",
           "LLMDecomposer", "DecompositionRecord", "DecompositionFailed", "GoalTooLong",
           "EmptyCatalogue", "LLMConfigurationError", "UnknownModelError", "LLMProviderError",
           "PlanCache", "AsyncPlanCache", "CacheHit", "CachedDecomposer",
           "HybridDecomposer", "EngineCachedDecomposer", "default_decomposer", "InvalidGoalError"]
