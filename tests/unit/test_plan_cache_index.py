"""The plan cache's in-process index: entries grouped by signature, scored by
TF-IDF similarity of their templates, added and withdrawn one at a time."""

from __future__ import annotations

from htdag.decomposers._goal import parse_goal
from htdag.decomposers.cache_index import CacheIndex
from htdag.decomposers.cache_store import Change

GOALS = ["Summarize the last 50 messages in #general",
         "Close the last 50 messages in #general",
         "Give me a recap of the latest 10 messages from #ops"]


def _index() -> CacheIndex:
    index = CacheIndex()
    index.apply(Change(i, "active", p.signature, p.template)
                for i, p in enumerate(map(parse_goal, GOALS), start=1))
    return index


def test_only_entries_with_the_goal_s_signature_are_scored() -> None:
    query = parse_goal("tl;dr of the most recent 20 messages in #random")
    found = _index().similar(query.signature, query.template, 0.5, 5)
    assert [entry_id for entry_id, _ in found] == [3, 1]
    assert all(0.5 <= score <= 1.0 for _, score in found)


def test_a_threshold_above_the_similarity_finds_nothing() -> None:
    query = parse_goal("Summarize the last 20 messages in #random please")
    assert _index().similar(query.signature, query.template, 1.01, 5) == []


def test_an_entry_no_longer_active_is_withdrawn() -> None:
    index = _index()
    first = parse_goal(GOALS[0])
    index.apply([Change(1, "disabled", first.signature, first.template)])
    assert len(index) == 2
    assert [i for i, _ in index.similar(first.signature, first.template, 0.0, 5)] == [3]
