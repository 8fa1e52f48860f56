"""Flow and step definitions: built in Python or read from JSON, validated,
and identified by the hash of their canonical JSON (the same definition is
stored once)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._json import reject_nul
from .errors import (
    DuplicateStepError,
    FlowCycleError,
    InvalidFlow,
    InvalidOptionError,
    MapStepDependencyError,
    UnknownDependencyError,
)
from .status import StepKind

HandlerFn = Callable[..., Any]
F = TypeVar("F", bound=HandlerFn)

RESERVED_STEP_NAMES = frozenset({"run"})  # "run" carries the run input in a step's input


@dataclass(frozen=True)
class StepOptions:
    """How a step's tasks run. Delays and timeouts are in seconds."""

    max_attempts: int = 3
    base_delay: float = 1.0
    max_delay: float = 300.0
    timeout: float | None = None
    priority: int = 0

    def check(self, step: str) -> None:
        def bad(what: str) -> InvalidOptionError:
            return InvalidOptionError(f"step {step!r}: {what}")

        if not _integer(self.max_attempts) or not 1 <= self.max_attempts <= 1000:
            raise bad(f"max_attempts must be an integer from 1 to 1000, got {self.max_attempts!r}")
        for name in ("base_delay", "max_delay"):
            value = getattr(self, name)
            if not _finite_number(value) or value < 0 or value > 86400:
                raise bad(f"{name} must be a number of seconds from 0 to 86400, got {value!r}")
        if self.max_delay < self.base_delay:
            raise bad(f"max_delay ({self.max_delay}) must be >= base_delay ({self.base_delay})")
        if self.timeout is not None and (
            not _finite_number(self.timeout) or not 0 < self.timeout <= 7 * 86400
        ):
            raise bad(f"timeout must be None or seconds in (0, 604800], got {self.timeout!r}")
        if not _integer(self.priority) or not -1000 <= self.priority <= 1000:
            raise bad(f"priority must be an integer from -1000 to 1000, got {self.priority!r}")


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Step:
    """One step of a flow. A map step runs one task per element of its input
    array (the run input, or its only dependency's output)."""

    name: str
    handler: str
    depends_on: tuple[str, ...] = ()
    map: bool = False
    options: StepOptions = field(default_factory=StepOptions)
    fn: HandlerFn | None = field(default=None, compare=False, repr=False)

    @property
    def kind(self) -> StepKind:
        return StepKind.MAP if self.map else StepKind.SINGLE

    def to_definition(self) -> dict[str, Any]:
        o = self.options
        return {
            "name": self.name,
            "handler": self.handler,
            "kind": self.kind.value,
            "depends_on": sorted(self.depends_on),
            "options": {
                "max_attempts": o.max_attempts,
                "base_delay": float(o.base_delay),
                "max_delay": float(o.max_delay),
                "timeout": None if o.timeout is None else float(o.timeout),
                "priority": o.priority,
            },
        }


class Flow:
    """A DAG of steps.

    >>> flow = Flow("squares")
    >>> @flow.step(map=True)
    ... def square(x): return x * x
    """

    def __init__(self, name: str, steps: Iterable[Step] = (), *, output: str | None = None
                 ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidFlow("a flow needs a non-empty name")
        reject_nul(name, "the flow name")
        self.name = name
        self.output = output  # the step whose output is the run's; default: the leaves by name
        self._steps: dict[str, Step] = {}
        for s in steps:
            self._add(s)

    # building ------------------------------------------------------------

    def step(
        self,
        name: str | None = None,
        *,
        depends_on: Iterable[str] = (),
        map: bool = False,
        handler: str | None = None,
        **options: Any,
    ) -> Callable[[F], F]:
        """Decorator: registers a function as a step (and as its handler)."""

        def register(fn: F) -> F:
            self.add_step(name or fn.__name__, fn, depends_on=depends_on, map=map,
                          handler_name=handler, **options)
            return fn

        return register

    def add_step(
        self,
        name: str,
        handler: str | HandlerFn,
        *,
        depends_on: Iterable[str] = (),
        map: bool = False,
        handler_name: str | None = None,
        **options: Any,
    ) -> Step:
        """Adds a step that calls ``handler`` (a registered handler's name, or a function)."""
        if isinstance(handler, str):
            fn, hname = None, handler
        elif callable(handler):
            fn, hname = handler, handler_name or f"{self.name}.{name}"
        else:
            raise InvalidFlow(f"step {name!r}: handler must be a function or a handler name")
        try:
            opts = StepOptions(**options)
        except TypeError:
            known = ", ".join(StepOptions.__dataclass_fields__)
            raise InvalidOptionError(
                f"step {name!r}: unknown option in {sorted(options)}; known options: {known}"
            ) from None
        deps = (depends_on,) if isinstance(depends_on, str) else tuple(depends_on)
        step = Step(name=name, handler=hname, depends_on=deps, map=map, options=opts, fn=fn)
        return self._add(step)

    def _add(self, step: Step) -> Step:
        if not isinstance(step.name, str) or not step.name or step.name in RESERVED_STEP_NAMES:
            raise InvalidFlow(f"step name {step.name!r} is not allowed: use a non-empty name "
                              f"other than {sorted(RESERVED_STEP_NAMES)}")
        reject_nul(step.name, f"flow {self.name!r}: a step name")
        reject_nul(step.handler, f"step {step.name!r}: the handler name")
        if step.name in self._steps:
            raise DuplicateStepError(f"flow {self.name!r} already has a step {step.name!r}; "
                                     "give each step a unique name")
        if not step.handler:
            raise InvalidFlow(f"step {step.name!r} needs a handler name")
        if len(set(step.depends_on)) != len(step.depends_on):
            raise InvalidFlow(f"step {step.name!r} lists a dependency twice: {step.depends_on}")
        if step.map and len(step.depends_on) > 1:
            raise MapStepDependencyError(
                f"map step {step.name!r} depends on {list(step.depends_on)}; a map step maps over "
                "the run input or over exactly one dependency's output: add a step that "
                "combines them")
        step.options.check(step.name)
        self._steps[step.name] = step
        return step

    # reading -------------------------------------------------------------

    @property
    def steps(self) -> list[Step]:
        return list(self._steps.values())

    def __getitem__(self, name: str) -> Step:
        return self._steps[name]

    @property
    def handlers(self) -> dict[str, HandlerFn]:
        """The functions of steps defined from functions, by handler name."""
        return {s.handler: s.fn for s in self._steps.values() if s.fn is not None}

    def validate(self) -> None:
        """Checks the whole graph: at least one step, known dependencies, no cycle."""
        if not self._steps:
            raise InvalidFlow(f"flow {self.name!r} has no steps; add one with @flow.step()")
        for s in self._steps.values():
            for dep in s.depends_on:
                if dep == s.name:
                    raise FlowCycleError([s.name, s.name])
                if dep not in self._steps:
                    raise UnknownDependencyError(
                        f"step {s.name!r} depends on {dep!r}, which flow {self.name!r} does not "
                        f"define; known steps: {sorted(self._steps)}")
        cycle = find_cycle({n: s.depends_on for n, s in self._steps.items()})
        if cycle:
            raise FlowCycleError(cycle)
        if self.output is not None and self.output not in self._steps:
            raise UnknownDependencyError(
                f"flow {self.name!r}: output names step {self.output!r}, which it does not "
                f"define; known steps: {sorted(self._steps)}")

    def topological_order(self) -> list[Step]:
        """Steps ordered so that every step comes after its dependencies."""
        self.validate()
        # Level by level (a level: the steps whose dependencies are all in earlier
        # levels), each sorted by name, so the canonical form (and the hash) ignores
        # the order steps were added in. Linear in steps and edges, plus the sorts.
        waiting = {n: len(set(s.depends_on)) for n, s in self._steps.items()}
        dependents: dict[str, list[str]] = {n: [] for n in self._steps}
        for n, s in self._steps.items():
            for dep in set(s.depends_on):
                dependents[dep].append(n)
        order: list[Step] = []
        level = sorted(n for n, count in waiting.items() if count == 0)
        while level:
            order.extend(self._steps[n] for n in level)
            following: list[str] = []
            for n in level:
                for d in dependents[n]:
                    waiting[d] -= 1
                    if waiting[d] == 0:
                        following.append(d)
            level = sorted(following)
        return order

    def to_definition(self) -> dict[str, Any]:
        """The canonical JSON form: what is stored and hashed."""
        definition: dict[str, Any] = {
            "name": self.name, "steps": [s.to_definition() for s in self.topological_order()]}
        if self.output is not None:
            definition["output"] = self.output
        return definition

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.to_definition(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_definition(), indent=indent)

    @classmethod
    def from_json(cls, source: str | bytes | Mapping[str, Any],
                  handlers: Mapping[str, HandlerFn] | None = None) -> Flow:
        """Reads a flow from JSON text or a dict; ``handlers`` may attach functions by name."""
        if isinstance(source, str | bytes):
            try:
                data = json.loads(source)
            except json.JSONDecodeError as exc:
                raise InvalidFlow(f"flow JSON does not parse: {exc}") from None
        else:
            data = dict(source)
        try:
            spec = _FlowSpec.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'flow'}: {e['msg']}" for e in exc.errors())
            raise InvalidFlow(f"flow JSON is invalid: {problems}") from None
        flow = cls(spec.name, output=spec.output)
        for s in spec.steps:
            fn = (handlers or {}).get(s.handler)
            step = Step(name=s.name, handler=s.handler, depends_on=tuple(s.depends_on),
                        map=s.kind == StepKind.MAP or s.map, options=s.options.to_options(), fn=fn)
            flow._add(step)
        flow.validate()
        return flow

    def with_options(self, overrides: Mapping[str, Mapping[str, Any]]) -> Flow:
        """A copy with some steps' options replaced: {step name: {option: value}}."""
        steps = []
        for s in self._steps.values():
            extra = overrides.get(s.name)
            steps.append(replace(s, options=replace(s.options, **extra)) if extra else s)
        return Flow(self.name, steps, output=self.output)

    def __repr__(self) -> str:
        return f"Flow({self.name!r}, steps={list(self._steps)})"


class _OptionsSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_attempts: int = 3
    base_delay: float = 1.0
    max_delay: float = 300.0
    timeout: float | None = None
    priority: int = 0

    def to_options(self) -> StepOptions:
        return StepOptions(**self.model_dump())


class _StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    handler: str = Field(min_length=1)
    depends_on: list[str] = []
    kind: StepKind = StepKind.SINGLE
    map: bool = False
    options: _OptionsSpec = _OptionsSpec()


class _FlowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    steps: list[_StepSpec] = Field(min_length=1)
    output: str | None = None


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle in a dependency graph as [a, b, ..., a], or None. Depth-first, with
    its own stack: a chain of thousands of steps must not hit the recursion limit."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = {n: WHITE for n in graph}
    for root in graph:
        if color[root] != WHITE:
            continue
        color[root] = GREY
        path = [root]
        pending = [iter(graph.get(root, ()))]
        while pending:
            for nxt in pending[-1]:
                seen = color.get(nxt)
                if seen == GREY:
                    return [*path[path.index(nxt):], nxt]
                if seen == WHITE:
                    color[nxt] = GREY
                    path.append(nxt)
                    pending.append(iter(graph.get(nxt, ())))
                    break
            else:
                color[path.pop()] = BLACK
                pending.pop()
    return None
