"""The plan cache's pure logic: a goal split into template and values, which
goals share a signature (may share a plan), and re-binding a cached plan's
parameters to a new goal's values."""

from __future__ import annotations

from typing import Any

import pytest

from htdag.decomposers import InvalidGoalError
from htdag.decomposers._goal import MAX_GOAL_CHARS, parse_goal
from htdag.decomposers._template import handler_fingerprints, rebind, serves
from htdag.errors import HtdagError, InvalidInput

SUMMARIZE = "Summarize the last 50 messages in #general"
PLAN: dict[str, Any] = {"tasks": [
    {"id": "history", "handler": "slack.history", "params": {"channel": "#general", "limit": 50},
     "description": "messages of #general"},
    {"id": "summary", "handler": "llm.summarize", "params": {"text": "$history"}}]}


def kinds(goal: str) -> list[tuple[str, str]]:
    return [(v.kind, v.text) for v in parse_goal(goal).values]


def test_values_of_every_kind_are_taken_out_of_the_template() -> None:
    found = kinds("Email Bob Smith the file ./reports/q3.pdf from https://x.io/a?b=1 "
                  "on 2025-01-31 at 3pm, cc ops@example.com, ping @ana in #ops about "
                  "WEB-12, PR #7, v2.3.1, $1,200 and 'the draft'")
    assert found == [("name", "Bob Smith"), ("path", "./reports/q3.pdf"),
                     ("url", "https://x.io/a?b=1"), ("date", "2025-01-31"), ("time", "3pm"),
                     ("email", "ops@example.com"), ("mention", "@ana"), ("channel", "#ops"),
                     ("ref", "WEB-12"), ("ref", "#7"), ("version", "v2.3.1"),
                     ("number", "$1,200"), ("quoted", "the draft")]


def test_the_first_word_of_a_sentence_and_acronyms_are_not_names() -> None:
    assert kinds("Export the CSV to Slack. Then DM Alice") == [("name", "Slack"),
                                                               ("name", "Alice")]


@pytest.mark.parametrize("paraphrase", [
    "Give me a quick recap of the latest 20 messages from #random",
    "tl;dr of the most recent 100 messages in #support please",
    "can you summarise the previous 30 messages in #general?",
])
def test_paraphrases_share_the_signature(paraphrase: str) -> None:
    assert parse_goal(paraphrase).signature == parse_goal(SUMMARIZE).signature


@pytest.mark.parametrize("lookalike", [
    "Close the last 50 messages in #general",  # another action
    "Summarize the last 50 emails in #general",  # another object
    "Summarize the last 50 messages in #general without posting",  # a negation
    "Summarize the last 50 messages in #general and send it to the team",  # a destination
    "Summarize the last 50 messages in #general and #random",  # more values
])
def test_lookalikes_get_another_signature(lookalike: str) -> None:
    assert parse_goal(lookalike).signature != parse_goal(SUMMARIZE).signature


def test_negations_must_apply_to_the_same_word() -> None:
    post = parse_goal("Summarize #general but don't post it")
    assert post.signature == parse_goal("Summarize #general without posting").signature
    assert post.signature != parse_goal("Post to #general but don't summarize").signature


def test_who_does_what_to_whom_tells_goals_apart() -> None:
    assert parse_goal("Remind me to call Bob at 5pm").signature != \
        parse_goal("Remind Bob to call me at 5pm").signature


def test_the_destination_of_a_value_tells_goals_apart() -> None:
    assert parse_goal("Copy /a/x.txt to /b/").signature != \
        parse_goal("Copy /a/x.txt from /b/").signature


def test_the_normalised_goal_ignores_spacing_and_a_sentence_s_capital_but_not_values() -> None:
    assert parse_goal("  summarize the last 50   messages in #general. ").key == \
        parse_goal(SUMMARIZE).key
    assert parse_goal("Summarize the last 50 messages in #General").key != \
        parse_goal(SUMMARIZE).key


def test_rebinding_replaces_the_changed_values_in_params_and_descriptions() -> None:
    new = parse_goal("Recap the latest 20 messages from #random").values
    graph = rebind(PLAN, parse_goal(SUMMARIZE).values, new)
    assert graph is not None
    assert graph["tasks"][0]["params"] == {"channel": "#random", "limit": 20}
    assert graph["tasks"][0]["description"] == "messages of #random"
    assert graph["tasks"][1]["params"] == {"text": "$history"}


def test_equal_values_keep_the_plan_as_it_is() -> None:
    same = rebind(PLAN, parse_goal(SUMMARIZE).values,
                  parse_goal("recap the latest 50 messages in #general").values)
    assert same == PLAN


def test_a_value_the_plan_does_not_take_cannot_be_rebound() -> None:
    fixed = {"tasks": [{"id": "history", "handler": "slack.history",
                        "params": {"channel": "#general", "limit": 100}}]}
    assert rebind(fixed, parse_goal(SUMMARIZE).values,
                  parse_goal("Summarize the last 20 messages in #general").values) is None


def test_a_value_that_names_a_handler_cannot_be_rebound() -> None:
    plan = {"tasks": [{"id": "post", "handler": "slack.post",
                       "params": {"where": "Slack", "text": "hi"}}]}
    assert rebind(plan, parse_goal("Post hi to Slack").values,
                  parse_goal("Post hi to Teams").values) is None


def test_a_value_the_plan_derived_something_from_cannot_be_rebound() -> None:
    plan = {"tasks": [{"id": "tr", "handler": "translate",
                       "params": {"path": "README.md", "out": "README.es.md"}}]}
    assert rebind(plan, parse_goal("Translate README.md into Spanish").values,
                  parse_goal("Translate guide.md into Spanish").values) is None


def test_a_plan_is_served_only_to_a_catalogue_with_its_handlers_and_schemas() -> None:
    needed = {"search": handler_fingerprints({"search": {"type": "object"}})["search"]}
    assert serves(needed, handler_fingerprints({"search": {"type": "object"}, "x": {}}))
    assert not serves(needed, handler_fingerprints({"other": {"type": "object"}}))
    assert not serves(needed, handler_fingerprints({"search": {"type": "string"}}))
    assert serves(needed, None)


@pytest.mark.parametrize(("goal", "says"), [
    ("", "empty"), ("   ", "empty"), ("sum\x00marize", "NUL"),
    ("x" * (MAX_GOAL_CHARS + 1), "at most"), (42, "text"),
])
def test_bad_goals_raise_a_typed_error_that_says_what_to_fix(goal: Any, says: str) -> None:
    with pytest.raises(InvalidGoalError, match=says) as raised:
        parse_goal(goal)
    assert isinstance(raised.value, InvalidInput)
    assert isinstance(raised.value, HtdagError)


def test_a_number_found_in_two_parameters_cannot_be_rebound() -> None:
    plan = {"tasks": [{"id": "fetch", "handler": "fetch", "params": {"limit": 3, "retries": 3}}]}
    assert rebind(plan, parse_goal("Fetch the top 3 stories").values,
                  parse_goal("Fetch the top 5 stories").values) is None


def test_a_number_used_twice_as_the_same_parameter_is_rebound_in_both() -> None:
    plan = {"tasks": [{"id": "diff", "handler": "pr_diff", "params": {"number": 42}},
                      {"id": "note", "handler": "pr_comment", "params": {"number": 42}}]}
    graph = rebind(plan, parse_goal("Review PR #42").values, parse_goal("Review PR #7").values)
    assert graph is not None
    assert [t["params"]["number"] for t in graph["tasks"]] == [7, 7]


def test_a_file_of_another_type_is_not_rebound_into_a_plan_for_its_type() -> None:
    plan = {"tasks": [{"id": "read", "handler": "pdf.read", "params": {"path": "q3.pdf"}}]}
    old = parse_goal("Summarize q3.pdf").values
    assert rebind(plan, old, parse_goal("Summarize q4.pdf").values) is not None
    assert rebind(plan, old, parse_goal("Summarize q3.xlsx").values) is None
    copy = {"tasks": [{"id": "copy", "handler": "fs.copy", "params": {"path": "q3.pdf"}}]}
    assert rebind(copy, parse_goal("Copy q3.pdf").values,
                  parse_goal("Copy q3.xlsx").values) is not None


def test_environment_names_are_words_even_when_capitalised() -> None:
    assert parse_goal("Deploy the api to Staging").signature != \
        parse_goal("Deploy the api to Production").signature


def test_a_particle_changes_the_verb() -> None:
    assert parse_goal("Scale up the web cluster").signature != \
        parse_goal("Scale down the web cluster").signature
