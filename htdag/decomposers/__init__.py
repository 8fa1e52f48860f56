"""Decomposers turn a goal in words into a TaskGraph: by rules, an LLM, or a
cache of earlier plans. They share one interface, :class:`Decomposer`."""

from .base import Decomposer, NoDecomposition
from .rules import Rule, RuleDecomposer, default_rules

__all__ = ["Decomposer", "NoDecomposition", "Rule", "RuleDecomposer", "default_rules"]
