"""Registered handlers: the only code a task graph can call. A handler is a
Python callable (sync or async) with a name, a description and a parameter
schema from its type hints; the catalogue of them is what decomposers plan
over. Nothing a planner writes is ever executed as code."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from .core._validation import describe_validation_error
from .core.context import TaskContext, context_parameter
from .core.errors import HtdagError, NonRetryableError, UnknownHandlerError
from .graph import resolve

F = TypeVar("F", bound=Callable[..., Any])
MAP_PREFIX = "map:"  # the engine handler of a map task: one element at a time


class HandlerRegistrationError(HtdagError, ValueError):
    """A handler cannot be registered as given."""


@dataclass(frozen=True)
class HandlerSpec:
    name: str
    description: str
    fn: Callable[..., Any]
    params_model: type[BaseModel]
    ctx_param: str | None  # the parameter that gets the TaskContext (context_parameter)
    is_async: bool
    # params_model's field names -> the handler's parameter names (their aliases)
    param_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def parameters(self) -> list[str]:
        """The handler's parameter names (what params are keyed by)."""
        fields = self.params_model.model_fields
        return [self.param_names.get(k, k) for k in fields]

    @property
    def schema(self) -> dict[str, Any]:
        return self.params_model.model_json_schema()

    def catalogue_entry(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.schema}

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        try:
            model = self.params_model.model_validate(dict(params))
        except ValidationError as exc:
            raise NonRetryableError(f"handler {self.name!r} got bad params: "
                                    + describe_validation_error(exc, root="params")) from None
        names = self.param_names
        return {names.get(k, k): getattr(model, k) for k in type(model).model_fields}


def _unwrap(fn: Callable[..., Any]) -> Callable[..., Any]:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def _is_async(fn: Callable[..., Any]) -> bool:
    """An async function (also behind functools.partial) or an object whose
    ``__call__`` is one."""
    target = _unwrap(fn)
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(target) or (
        not inspect.isroutine(target)
        and inspect.iscoroutinefunction(getattr(target, "__call__", None)))  # noqa: B004


def _params_model(name: str, fn: Callable[..., Any]
                  ) -> tuple[type[BaseModel], str | None, dict[str, str]]:
    # inspect.signature (not get_type_hints) reads the hints of any callable (functions,
    # functools.partial, objects with __call__) and keeps Annotated metadata such as
    # pydantic's Field(ge=1, description=...), which get_type_hints strips by default.
    try:
        signature = inspect.signature(fn, eval_str=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read hints is one error
        raise HandlerRegistrationError(
            f"handler {name!r}: cannot read its signature and type hints ({exc})") from None
    fields: dict[str, Any] = {}
    names: dict[str, str] = {}
    ctx_param = context_parameter(fn)
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise HandlerRegistrationError(
                f"handler {name!r}: *args/**kwargs give no schema; name each parameter")
        if param.kind is param.POSITIONAL_ONLY:
            raise HandlerRegistrationError(
                f"handler {name!r}: parameter {param.name!r} is positional-only; params "
                "are passed by name")
        annotation = Any if param.annotation is param.empty else param.annotation
        if param.name == ctx_param:
            continue
        default = ... if param.default is param.empty else param.default
        # Every field gets an internal name and the parameter's name as its alias, so a
        # parameter may be called anything (json, schema, copy, model_x, _x, ...) without
        # shadowing BaseModel's attributes; schemas and errors show the alias.
        internal = f"p{len(fields)}"
        if isinstance(default, FieldInfo):  # def f(n: int = Field(1, ge=0))
            info = FieldInfo.merge_field_infos(default, Field(alias=param.name))
        else:
            info = Field(default, alias=param.name)
        fields[internal] = (annotation, info)
        names[internal] = param.name
    model = create_model(f"{name.replace('.', '_').replace(':', '_')}_params",
                         __config__=ConfigDict(extra="forbid"), **fields)
    return model, ctx_param, names


class HandlerRegistry:
    """Handlers by name. ``htdag.handler`` registers into the default one."""

    def __init__(self) -> None:
        self._specs: dict[str, HandlerSpec] = {}

    def register(self, fn: Callable[..., Any], name: str | None = None,
                 description: str | None = None) -> HandlerSpec:
        hname = name or getattr(_unwrap(fn), "__name__", None)
        if not hname:
            raise HandlerRegistrationError(
                f"{fn!r} has no __name__: register it with a name, "
                "registry.register(fn, name='...')")
        if not isinstance(hname, str) or hname.startswith(MAP_PREFIX):
            raise HandlerRegistrationError(f"handler name {hname!r} is not allowed")
        existing = self._specs.get(hname)
        if existing is not None and existing.fn is not fn:
            raise HandlerRegistrationError(
                f"a different function is already registered as {hname!r}; choose another name")
        model, ctx_param, names = _params_model(hname, fn)
        doc = description or inspect.getdoc(_unwrap(fn)) or ""
        spec = HandlerSpec(hname, doc.strip(), fn, model, ctx_param, _is_async(fn), names)
        self._specs[hname] = spec
        return spec

    def handler(self, name: str | None = None, *, description: str | None = None
                ) -> Callable[[F], F]:
        def register(fn: F) -> F:
            self.register(fn, name, description)
            return fn
        return register

    def get(self, name: str) -> HandlerSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownHandlerError(f"no handler is registered as {name!r}; registered: "
                                      f"{sorted(self._specs)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def catalogue(self) -> list[dict[str, Any]]:
        """Name, description and JSON schema of every handler: what planners see."""
        return [self._specs[n].catalogue_entry() for n in sorted(self._specs)]

    def merged(self, other: HandlerRegistry | Mapping[str, Callable[..., Any]] | None
               ) -> HandlerRegistry:
        """This registry plus ``other`` (a registry, or a name -> function mapping)."""
        result = HandlerRegistry()
        result._specs.update(self._specs)
        if isinstance(other, HandlerRegistry):
            result._specs.update(other._specs)
        elif other:
            for n, fn in other.items():
                result.register(fn, n)
        return result

    def engine_handlers(self) -> dict[str, Callable[..., Any]]:
        """What a worker runs: for each handler, one engine handler for single
        tasks and one (``map:<name>``) for map tasks. Both resolve the task's
        params against its dependencies' outputs, validate them, and call it."""
        found: dict[str, Callable[..., Any]] = {}
        for spec in self._specs.values():
            found[spec.name] = _single_task_handler(spec)
            found[MAP_PREFIX + spec.name] = _map_task_handler(spec)
        return found


def _call(spec: HandlerSpec, params: dict[str, Any], ctx: TaskContext,
          description: str = "") -> Any:
    if "task_description" in spec.parameters and "task_description" not in params:
        params = {**params, "task_description": description}
    args = spec.validate(params)
    if spec.ctx_param:
        args[spec.ctx_param] = ctx
    return spec.fn(**args)


def _params_for(inp: Mapping[str, Any], step: str) -> dict[str, Any]:
    run = inp.get("run") or {}
    params = (run.get("params") or {}).get(step, {})
    outputs = {k: v for k, v in inp.items() if k != "run"}
    return dict(resolve(params, outputs))


def _description(inp: Mapping[str, Any], step: str) -> str:
    return str(((inp.get("run") or {}).get("descriptions") or {}).get(step, ""))


def _single_task_handler(spec: HandlerSpec) -> Callable[..., Any]:
    if spec.is_async:
        async def run_async(inp: dict[str, Any], ctx: TaskContext) -> Any:
            return await _call(spec, _params_for(inp, ctx.step), ctx,
                               _description(inp, ctx.step))
        run_async.__name__ = spec.name
        return run_async

    def run_sync(inp: dict[str, Any], ctx: TaskContext) -> Any:
        return _call(spec, _params_for(inp, ctx.step), ctx, _description(inp, ctx.step))
    run_sync.__name__ = spec.name
    return run_sync


def _map_task_handler(spec: HandlerSpec) -> Callable[..., Any]:
    # A map task's element arrives as {"item": ..., "params": ..., "param": name}
    # (built by the items step the FlowBuilder adds in front of it).
    def params_of(element: Mapping[str, Any]) -> dict[str, Any]:
        return {**element["params"], element["param"]: element["item"]}

    if spec.is_async:
        async def run_async(element: dict[str, Any], ctx: TaskContext) -> Any:
            return await _call(spec, params_of(element), ctx, element.get("description", ""))
        return run_async

    def run_sync(element: dict[str, Any], ctx: TaskContext) -> Any:
        return _call(spec, params_of(element), ctx, element.get("description", ""))
    return run_sync


def builtin_handlers() -> HandlerRegistry:
    """A registry of htdag's built-in handlers: ``llm`` and ``subgoal``."""
    from .llm import llm

    registry = HandlerRegistry()
    registry.register(llm, "llm", "Ask a language model (litellm): the task's description is "
                      "the instruction, inputs its material; complexity picks the model.")
    registry.register(subgoal, "subgoal", "Plan a goal in words as a child graph and run it; "
                      "the task's output is the child's.")
    return registry


async def subgoal(goal: str, ctx: TaskContext) -> Any:
    """The built-in ``subgoal`` handler (a task of kind ``goal`` does the same)."""
    return await ctx.submit_subgoal(goal)


# What ``@htdag.handler`` registers into, and the default planner's catalogue: the
# built-ins and every handler registered with the decorator.
default_registry = builtin_handlers()


def handler(name: str | None = None, *, description: str | None = None) -> Callable[[F], F]:
    """Registers a function as a handler that task graphs can call::

        @htdag.handler("search", description="Finds sources on a topic")
        async def search(topic: str, limit: int = 5) -> list[str]: ...
    """
    return default_registry.handler(name, description=description)
