"""Flow and step definitions: built in Python or read from JSON, validated,
and identified by the hash of their canonical JSON (the same definition is
stored once)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._json import reject_nul
from ._validation import describe_validation_error
from .dependencies import dependency_order
from .errors import (
    DuplicateStepError,
    FlowCycleError,
    InvalidFlow,
    InvalidOptionError,
    MapStepDependencyError,
    UnknownDependencyError,
)
from .options import StepOptions as StepOptions  # re-exported: htdag imports it from here
from .status import StepKind

HandlerFn = Callable[..., Any]
F = TypeVar("F", bound=HandlerFn)

RESERVED_STEP_NAMES = frozenset({"run"})  # "run" carries the run input in a step's input


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
        return {
            "name": self.name,
            "handler": self.handler,
            "kind": self.kind.value,
            "depends_on": sorted(self.depends_on),
            "options": self.options.to_definition(),
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
        self._hashed: tuple[tuple[str, str | None, int], str] | None = None
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
        opts = _step_options(name, StepOptions(), options)
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
        self.topological_order()

    def topological_order(self) -> list[Step]:
        """The steps, each after its dependencies; level by level, each level by
        name, so the canonical form (and the hash) ignores the order of adding."""
        if not self._steps:
            raise InvalidFlow(f"flow {self.name!r} has no steps; add one with @flow.step()")
        for s in self._steps.values():
            for dep in s.depends_on:
                if dep not in self._steps:
                    raise UnknownDependencyError(
                        f"step {s.name!r} depends on {dep!r}, which flow {self.name!r} does not "
                        f"define; known steps: {sorted(self._steps)}")
        if self.output is not None and self.output not in self._steps:
            raise UnknownDependencyError(
                f"flow {self.name!r}: output names step {self.output!r}, which it does not "
                f"define; known steps: {sorted(self._steps)}")
        order = dependency_order({n: s.depends_on for n, s in self._steps.items()},
                                 FlowCycleError)
        return [self._steps[n] for n in order]

    def to_definition(self) -> dict[str, Any]:
        """The canonical JSON form: what is stored and hashed."""
        definition: dict[str, Any] = {
            "name": self.name, "steps": [s.to_definition() for s in self.topological_order()]}
        if self.output is not None:
            definition["output"] = self.output
        return definition

    @property
    def hash(self) -> str:
        # Every start of a run hashes its flow: once per content is enough. Steps
        # are only ever added (and are frozen), so these three say what changed.
        key = (self.name, self.output, len(self._steps))
        if self._hashed is None or self._hashed[0] != key:
            canonical = json.dumps(self.to_definition(), sort_keys=True, separators=(",", ":"))
            self._hashed = (key, hashlib.sha256(canonical.encode()).hexdigest()[:32])
        return self._hashed[1]

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
            only_options = all("options" in e["loc"] for e in exc.errors())
            error = InvalidOptionError if only_options else InvalidFlow
            raise error("flow JSON is invalid: "
                        + describe_validation_error(exc, root="flow")) from None
        flow = cls(spec.name, output=spec.output)
        for s in spec.steps:
            fn = (handlers or {}).get(s.handler)
            step = Step(name=s.name, handler=s.handler, depends_on=tuple(s.depends_on),
                        map=s.kind == StepKind.MAP or s.map, options=s.options, fn=fn)
            flow._add(step)
        flow.validate()
        return flow

    def with_options(self, overrides: Mapping[str, Mapping[str, Any]]) -> Flow:
        """A copy with some steps' options replaced: {step name: {option: value}}."""
        steps = [replace(s, options=_step_options(s.name, s.options, overrides.get(s.name, {})))
                 for s in self._steps.values()]
        return Flow(self.name, steps, output=self.output)

    def __repr__(self) -> str:
        return f"Flow({self.name!r}, steps={list(self._steps)})"

    def _repr_svg_(self) -> str:
        """The flow as a picture, for Jupyter (htdag.pictures, imported here)."""
        from ..pictures.graphs import flow_svg

        return flow_svg(self)


class _StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    handler: str = Field(min_length=1)
    depends_on: list[str] = []
    kind: StepKind = StepKind.SINGLE
    map: bool = False
    options: StepOptions = StepOptions()


class _FlowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    steps: list[_StepSpec] = Field(min_length=1)
    output: str | None = None


def _step_options(step: str, options: StepOptions, changes: Mapping[str, Any]) -> StepOptions:
    try:
        return options.updated(changes)
    except InvalidOptionError as exc:
        raise InvalidOptionError(f"step {step!r}: {exc}") from None
