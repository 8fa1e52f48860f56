"""The handler registry: registration of sync and async callables, parameter
schemas from type hints, the catalogue, param validation, engine handlers."""

from __future__ import annotations

import functools
import logging
import uuid
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

import htdag
import htdag.handlers as handlers_module
from htdag.core.context import TaskContext
from htdag.core.errors import NonRetryableError, UnknownHandlerError
from htdag.handlers import HandlerRegistrationError, HandlerRegistry


class Source(BaseModel):
    url: str
    score: float = 0.0


@pytest.fixture
def registry() -> HandlerRegistry:
    reg = HandlerRegistry()

    @reg.handler("search", description="Finds sources on a topic")
    async def search(topic: str, limit: int = 5, ctx: TaskContext | None = None) -> list[str]:
        return [f"{topic}-{i}" for i in range(limit)]

    @reg.handler()
    def summarize(item: str, style: Literal["short", "long"] = "short",
                  tags: list[str] | None = None) -> dict[str, Any]:
        """Summarizes one source.

        More words that are part of the description."""
        return {"item": item, "style": style, "tags": tags or []}

    @reg.handler("rank")
    def rank(sources: list[Source],
             top: Annotated[int, Field(ge=1, le=10, description="how many to keep")] = 3
             ) -> list[str]:
        return [s.url for s in sorted(sources, key=lambda s: -s.score)[:top]]

    return reg


def context(step: str) -> TaskContext:
    engine: Any = None  # the engine handlers below never touch it
    return TaskContext(run_id=uuid.uuid4(), step=step, task_index=0, attempt=1, task_id=1,
                       engine=engine, logger=logging.getLogger("test"))


# --- registration ------------------------------------------------------------------


def test_the_decorator_registers_sync_and_async_callables_unchanged(
        registry: HandlerRegistry) -> None:
    assert registry.names() == ["rank", "search", "summarize"]
    assert len(registry) == 3 and "search" in registry and "nope" not in registry
    search, summarize = registry.get("search"), registry.get("summarize")
    assert search.is_async and not summarize.is_async
    assert search.ctx_param == "ctx" and summarize.ctx_param is None
    assert search.description == "Finds sources on a topic"
    # Without a description, the docstring is the description; without a name, __name__.
    assert summarize.name == "summarize"
    assert summarize.description.startswith("Summarizes one source.\n\nMore words")

    reg = HandlerRegistry()

    @reg.handler("double")
    def double(x: int) -> int:
        return 2 * x

    assert double(4) == 8  # the function itself is returned
    assert reg.get("double").fn is double


def test_the_schema_comes_from_the_type_hints(registry: HandlerRegistry) -> None:
    schema = registry.get("search").schema
    assert schema["properties"] == {
        "topic": {"title": "Topic", "type": "string"},
        "limit": {"title": "Limit", "type": "integer", "default": 5}}
    assert schema["required"] == ["topic"]
    assert schema["additionalProperties"] is False  # ctx is not a parameter

    props = registry.get("summarize").schema["properties"]
    assert props["style"] == {"default": "short", "enum": ["short", "long"], "title": "Style",
                              "type": "string"}
    assert props["tags"]["anyOf"] == [{"items": {"type": "string"}, "type": "array"},
                                      {"type": "null"}]


def test_annotated_constraints_and_nested_models_reach_the_schema(
        registry: HandlerRegistry) -> None:
    schema = registry.get("rank").schema
    assert schema["properties"]["top"] == {
        "default": 3, "description": "how many to keep", "maximum": 10, "minimum": 1,
        "title": "Top", "type": "integer"}
    assert schema["properties"]["sources"]["items"] == {"$ref": "#/$defs/Source"}
    assert set(schema["$defs"]["Source"]["properties"]) == {"url", "score"}
    spec = registry.get("rank")
    with pytest.raises(NonRetryableError, match="top: Input should be less than or equal to 10"):
        spec.validate({"sources": [], "top": 11})


def test_field_defaults_are_honoured() -> None:
    reg = HandlerRegistry()

    @reg.handler("f")
    def f(n: int = Field(2, ge=0, description="count")) -> int:
        return n

    spec = reg.get("f")
    assert spec.schema["properties"]["n"] == {"default": 2, "description": "count",
                                              "minimum": 0, "title": "N", "type": "integer"}
    assert spec.validate({}) == {"n": 2}
    with pytest.raises(NonRetryableError, match="n: Input should be greater than or equal"):
        spec.validate({"n": -1})


@pytest.mark.filterwarnings("error")
def test_parameters_may_have_any_name() -> None:
    # Names of BaseModel attributes must not turn into shadowing warnings or errors.
    reg = HandlerRegistry()

    @reg.handler("fetch")
    def fetch(json: dict[str, Any], schema: str = "s", copy: bool = False,
              model_config: int = 0) -> Any:
        return json

    spec = reg.get("fetch")
    assert list(spec.schema["properties"]) == ["json", "schema", "copy", "model_config"]
    assert spec.validate({"json": {"a": 1}, "copy": True}) == {
        "json": {"a": 1}, "schema": "s", "copy": True, "model_config": 0}


def test_callable_objects_and_partials_can_be_handlers() -> None:
    class Scorer:
        """Scores a text."""

        async def __call__(self, text: str, weight: float = 1.0) -> float:
            return len(text) * weight

    def power(base: int, exp: int) -> int:
        """Raises base to exp."""
        return int(base**exp)

    reg = HandlerRegistry()
    scorer = reg.register(Scorer(), "score")
    square = reg.register(functools.partial(power, exp=2), "square")
    assert scorer.is_async and scorer.description == "Scores a text."
    assert list(scorer.schema["properties"]) == ["text", "weight"]
    assert not square.is_async and square.description == "Raises base to exp."
    assert square.schema["required"] == ["base"]
    assert square.fn(**square.validate({"base": 3})) == 9
    with pytest.raises(HandlerRegistrationError, match="register it with a name"):
        reg.register(Scorer())


def test_registration_errors_say_what_to_fix() -> None:
    reg = HandlerRegistry()

    def star(*args: int) -> None: ...
    def kw(**kwargs: int) -> None: ...
    def positional(x: int, /) -> None: ...

    with pytest.raises(HandlerRegistrationError, match=r"\*args/\*\*kwargs give no schema"):
        reg.register(star)
    with pytest.raises(HandlerRegistrationError, match=r"\*args/\*\*kwargs give no schema"):
        reg.register(kw)
    with pytest.raises(HandlerRegistrationError, match="'x' is positional-only"):
        reg.register(positional)
    with pytest.raises(HandlerRegistrationError, match="not allowed"):
        reg.register(lambda x: x, "map:thing")

    def first(x: int) -> int:
        return x

    def second(x: int) -> int:
        return x

    reg.register(first, "same")
    reg.register(first, "same")  # the same function again: fine
    with pytest.raises(HandlerRegistrationError, match="already registered as 'same'"):
        reg.register(second, "same")


def test_unresolvable_hints_fail_at_registration() -> None:
    reg = HandlerRegistry()

    def broken(x: NotAType) -> None:  # type: ignore[name-defined]  # noqa: F821
        ...

    with pytest.raises(HandlerRegistrationError, match="handler 'broken': cannot read"):
        reg.register(broken)


def test_htdag_handler_registers_in_the_default_registry(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    fresh = HandlerRegistry()
    monkeypatch.setattr(handlers_module, "default_registry", fresh)

    @htdag.handler("greet", description="Says hello")
    async def greet(name: str) -> str:
        return f"hello {name}"

    assert fresh.catalogue() == [{
        "name": "greet", "description": "Says hello",
        "parameters": {"additionalProperties": False,
                       "properties": {"name": {"title": "Name", "type": "string"}},
                       "required": ["name"], "title": "greet_params", "type": "object"}}]


# --- the catalogue -------------------------------------------------------------------


def test_the_catalogue_lists_name_description_and_schema(registry: HandlerRegistry) -> None:
    catalogue = registry.catalogue()
    assert [c["name"] for c in catalogue] == ["rank", "search", "summarize"]
    for entry in catalogue:
        assert set(entry) == {"name", "description", "parameters"}
        assert entry["parameters"] == registry.get(entry["name"]).schema
        assert entry["parameters"]["type"] == "object"
    assert catalogue[1]["description"] == "Finds sources on a topic"


# --- params --------------------------------------------------------------------------


def test_params_are_validated_and_coerced(registry: HandlerRegistry) -> None:
    spec = registry.get("search")
    assert spec.validate({"topic": "pg"}) == {"topic": "pg", "limit": 5}
    assert spec.validate({"topic": "pg", "limit": "3"}) == {"topic": "pg", "limit": 3}
    ranked = registry.get("rank").validate({"sources": [{"url": "a", "score": 1}]})
    assert ranked["sources"] == [Source(url="a", score=1.0)]


@pytest.mark.parametrize(("params", "message"), [
    ({}, "topic: Field required"),
    ({"topic": "pg", "limit": "many"}, "limit: Input should be a valid integer"),
    ({"topic": "pg", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ({"topic": ["not", "a", "string"]}, "topic: Input should be a valid string"),
])
def test_bad_params_fail_without_retries_and_say_why(
        registry: HandlerRegistry, params: dict[str, Any], message: str) -> None:
    with pytest.raises(NonRetryableError) as info:
        registry.get("search").validate(params)
    assert str(info.value).startswith("handler 'search' got bad params: ")
    assert message in str(info.value)


def test_only_registered_handlers_can_be_looked_up(registry: HandlerRegistry) -> None:
    with pytest.raises(UnknownHandlerError) as info:
        registry.get("os.system")
    assert "no handler is registered as 'os.system'" in str(info.value)
    assert "['rank', 'search', 'summarize']" in str(info.value)


# --- engine handlers ---------------------------------------------------------------------


def test_engine_handlers_are_one_single_and_one_map_handler_each(
        registry: HandlerRegistry) -> None:
    assert sorted(registry.engine_handlers()) == [
        "map:rank", "map:search", "map:summarize", "rank", "search", "summarize"]


async def test_a_single_task_handler_resolves_its_params_and_calls(
        registry: HandlerRegistry) -> None:
    engine = registry.engine_handlers()
    inp = {"run": {"params": {"find": {"topic": "$pick.name", "limit": 2},
                              "sum": {"item": "$find.1", "tags": ["$$lit"]}}},
           "pick": {"name": "pg"}}
    assert await engine["search"](inp, context("find")) == ["pg-0", "pg-1"]
    out = engine["summarize"]({"run": inp["run"], "find": ["pg-0", "pg-1"]}, context("sum"))
    assert out == {"item": "pg-1", "style": "short", "tags": ["$lit"]}


async def test_a_map_task_handler_puts_the_element_in_its_param(
        registry: HandlerRegistry) -> None:
    engine = registry.engine_handlers()
    element = {"item": "pg-3", "params": {"style": "long"}, "param": "item"}
    assert engine["map:summarize"](element, context("m")) == {
        "item": "pg-3", "style": "long", "tags": []}
    aelement = {"item": "x", "params": {"limit": 1}, "param": "topic"}
    assert await engine["map:search"](aelement, context("m")) == ["x-0"]
    with pytest.raises(NonRetryableError, match="handler 'summarize' got bad params"):
        engine["map:summarize"]({"item": 5, "params": {}, "param": "item"}, context("m"))


def test_merged_registries() -> None:
    a, b = HandlerRegistry(), HandlerRegistry()

    @a.handler("one")
    def one() -> int:
        return 1

    @b.handler("two")
    def two() -> int:
        return 2

    merged = a.merged(b).merged({"three": lambda: 3})
    assert merged.names() == ["one", "three", "two"]
    assert a.names() == ["one"] and b.names() == ["two"]  # unchanged
