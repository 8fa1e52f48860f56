"""Ordering a dependency graph (a flow's steps, a task graph's tasks) and naming
its cycle, with graphlib."""

from __future__ import annotations

import graphlib
from collections.abc import Callable, Iterable, Mapping


def dependency_order(depends_on: Mapping[str, Iterable[str]],
                     cycle_error: Callable[[list[str]], Exception]) -> list[str]:
    """The nodes, each after the nodes it depends on.

    Level by level (a level: the nodes whose dependencies are all in earlier
    levels), each level sorted by name, so the order, and the hash of a flow
    built from it, ignore the order the nodes were added in.

    A cycle raises ``cycle_error(cycle)``: the cycle closed and read as "depends
    on", so ``["a", "b", "a"]`` means a depends on b and b on a."""
    sorter = graphlib.TopologicalSorter(depends_on)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        # graphlib lists each node before the ones that depend on it: reversed, the
        # list reads the way a user wrote the dependencies.
        raise cycle_error(list(reversed(exc.args[1]))) from None
    order: list[str] = []
    while sorter.is_active():
        level = sorted(sorter.get_ready())
        order.extend(level)
        sorter.done(*level)
    return order
