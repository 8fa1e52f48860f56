"""Ordering a dependency graph and naming its cycle (graphlib underneath)."""

from __future__ import annotations

import itertools
import time

import pytest

from htdag.core.dependencies import dependency_order


class Cycle(Exception):
    def __init__(self, cycle: list[str]) -> None:
        super().__init__(cycle)
        self.cycle = cycle


def test_each_node_comes_after_its_dependencies_level_by_level_by_name() -> None:
    graph = {"report": ["b", "a"], "b": ["root"], "a": ["root"], "root": [], "z": []}
    assert dependency_order(graph, Cycle) == ["root", "z", "a", "b", "report"]


def test_the_order_ignores_the_order_nodes_were_added_in() -> None:
    one = {"a": [], "b": ["a"], "c": ["a"]}
    other = {"c": ["a"], "b": ["a"], "a": []}
    assert dependency_order(one, Cycle) == dependency_order(other, Cycle)


def test_a_cycle_is_raised_closed_and_read_as_depends_on() -> None:
    graph = {"entry": [], "a": ["c", "entry"], "b": ["a"], "c": ["b"], "tail": ["c"]}
    with pytest.raises(Cycle) as caught:
        dependency_order(graph, Cycle)
    cycle = caught.value.cycle
    assert cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"} and len(cycle) == 4
    for node, dependency in itertools.pairwise(cycle):
        assert dependency in graph[node]


def test_a_node_depending_on_itself_is_a_cycle() -> None:
    with pytest.raises(Cycle) as caught:
        dependency_order({"a": ["a"]}, Cycle)
    assert caught.value.cycle == ["a", "a"]


def test_a_long_chain_is_ordered_in_linear_time_without_recursion() -> None:
    n = 20_000
    chain = {f"s{i:05}": [f"s{i - 1:05}"] if i else [] for i in range(n)}
    started = time.perf_counter()
    order = dependency_order(chain, Cycle)
    assert order == sorted(chain)
    assert time.perf_counter() - started < 2.0
