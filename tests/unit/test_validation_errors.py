"""The one formatter of pydantic's ValidationErrors: every problem, each with
where it is, what is wrong and the offending value."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from htdag.core._validation import describe_validation_error


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    count: int = 0

    @field_validator("name")
    @classmethod
    def _not_run(cls, value: str) -> str:
        if value == "run":
            raise ValueError("the name 'run' is reserved; pick another")
        return value


class Order(BaseModel):
    items: list[Item]


def problems(data: object, **kwargs: str) -> str:
    with pytest.raises(ValidationError) as caught:
        Order.model_validate(data)
    return describe_validation_error(caught.value, **kwargs)


def test_each_problem_names_its_location_and_the_value() -> None:
    message = problems({"items": [{"name": "a", "count": "many"}, {"count": 1}]})
    assert message == ("items.0.count: Input should be a valid integer, unable to parse string "
                       "as an integer (got 'many'); items.1.name: Field required")


def test_a_validator_s_message_is_kept_without_pydantic_s_prefix() -> None:
    assert problems({"items": [{"name": "run"}]}) == (
        "items.0.name: the name 'run' is reserved; pick another (got 'run')")


def test_an_unknown_field_is_named() -> None:
    assert problems({"items": [{"name": "a", "colour": "red"}]}) == (
        "items.0.colour: Extra inputs are not permitted (got 'red')")


def test_a_problem_with_the_whole_object_is_named_by_root() -> None:
    # A list or an object is not shown: it would bury the message.
    assert problems([1], root="order") == (
        "order: Input should be a valid dictionary or instance of Order")
    assert problems([1]).startswith("Order: ")  # by default, the model's name


def test_a_long_value_is_shortened() -> None:
    message = problems({"items": [{"name": "a", "count": "x" * 500}]})
    assert message.endswith("(got '" + "x" * 56 + "...)")  # 60 characters of the value
