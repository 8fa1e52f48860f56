"""The JSON of a plan taken out of a model's answer: the whole answer, a code
fence, or text around it; otherwise an error that says what went wrong."""

from __future__ import annotations

import pytest

from htdag.decomposers._plan import extract_json

PLAN = '{"tasks": [{"id": "a", "params": {"text": "a } brace"}}], "output": "a"}'


@pytest.mark.parametrize("answer, note", [
    (PLAN, []),
    (f"```json\n{PLAN}\n```", ["took the JSON out of a code fence"]),
    (f"Plan (see {{notes}} below):\n{PLAN}\nDone.",
     ["took the JSON object out of the text around it"]),
])
def test_the_plan_is_found(answer: str, note: list[str]) -> None:
    data, notes = extract_json(answer)
    assert data["tasks"][0]["params"]["text"] == "a } brace"
    assert notes == note


@pytest.mark.parametrize("answer, message", [
    ("", "the answer is empty"),
    ("I cannot plan this.", "the answer holds no JSON object"),
    (PLAN[:40], "the JSON is cut off"),
    ('{"tasks": [], // none\n}', "the answer is not valid JSON (Expecting"),
])
def test_an_answer_without_a_plan_says_what_is_wrong(answer: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        extract_json(answer)
