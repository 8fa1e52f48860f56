"""What htdag stores as JSON: the path to a NUL character, and the errors that
say what to fix."""

from __future__ import annotations

import math

import pytest

from htdag.core._json import has_nul, input_json, nul_path, reject_nul
from htdag.core.errors import InvalidInput


@pytest.mark.parametrize(("value", "path"), [
    ("a\x00b", "$"),
    ({"a": "x\x00"}, "$.a"),
    ({"a": [1, {"b": ["ok", "no\x00"]}]}, "$.a[1].b[1]"),
    ({"k\x00": 1}, "$.k\\u0000 (the key)"),
    (("t", "u\x00"), "$[1]"),
    ({"a": "fine", "b": ["\\u0000 is text, not a NUL"]}, None),
    ([1, 2.5, None, True], None),
])
def test_the_path_of_the_first_nul(value: object, path: str | None) -> None:
    assert nul_path(value) == path


def test_has_nul_tells_an_escaped_nul_from_an_escaped_backslash() -> None:
    assert has_nul(input_json_text := '{"a":"x\\u0000"}')
    assert not has_nul('{"a":"x\\\\u0000"}'), input_json_text
    assert has_nul('{"a":"x\\\\\\u0000"}')


def test_input_json_names_the_field_and_what_to_do() -> None:
    with pytest.raises(InvalidInput) as caught:
        input_json({"doc": {"body": "bin\x00ary"}})
    message = str(caught.value)
    assert message.startswith("the run input has a NUL character (\\u0000) at $.doc.body")
    assert "remove it" in message


def test_input_json_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(InvalidInput, match="the run input is not JSON"):
        input_json({"x": math.nan})
    with pytest.raises(InvalidInput, match="not JSON"):
        input_json({"x": object()})
    assert input_json({"b": [1, "two"]}) == '{"b":[1,"two"]}'


def test_reject_nul_names_what_it_was_given() -> None:
    with pytest.raises(InvalidInput, match=r"^the goal has a NUL character"):
        reject_nul("write\x00a report", "the goal")
    reject_nul("write a report", "the goal")
