"""Errors the learners raise: bad settings given to them, graphs they cannot rank."""

from __future__ import annotations

from htdag.core.errors import HtdagError, InvalidFlow


class InvalidLearnerSetting(HtdagError, ValueError):
    """A learner was given a setting outside its range; the message names it and the range."""


class StepCycleError(InvalidFlow):
    """The steps given to the priority learner depend on each other in a cycle."""

    def __init__(self, steps: list[str]) -> None:
        self.steps = steps
        super().__init__(f"steps {', '.join(sorted(steps))} depend on each other in a cycle: "
                         "a critical path needs an acyclic graph; remove one of the dependencies")


class UnknownStepDependency(InvalidFlow):
    """A step given to the priority learner depends on a step that was not given."""

    def __init__(self, step: str, dependency: str) -> None:
        self.step, self.dependency = step, dependency
        super().__init__(f"step {step!r} depends on {dependency!r}, which is not among the "
                         "steps given: pass every step of the graph")
