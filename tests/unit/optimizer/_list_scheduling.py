"""A list-scheduling simulation of a graph's tasks on a few slots, for the priority
learner's tests: ready tasks are claimed by priority (highest first), ties and
FIFO by the time they became ready, then by the order they were queued."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence


def makespan(steps: Mapping[str, Sequence[str]], seconds: Mapping[str, float],
             sizes: Mapping[str, int], slots: int,
             priorities: Mapping[str, int] | None = None) -> float:
    """When the last task ends: each step runs ``sizes[step]`` tasks (default 1) of
    ``seconds[step]`` each, once every task of its dependencies has ended.
    Without ``priorities`` the claim is FIFO."""
    waiting = {step: len(set(deps)) for step, deps in steps.items()}
    dependents: dict[str, list[str]] = {step: [] for step in steps}
    for step, deps in steps.items():
        for dep in set(deps):
            dependents[dep].append(step)
    unfinished = {step: sizes.get(step, 1) for step in steps}
    ready: list[tuple[int, float, int, str]] = []
    queued = 0

    def enqueue(step: str, now: float) -> None:
        nonlocal queued
        rank = -(priorities or {}).get(step, 0)
        for _ in range(sizes.get(step, 1)):
            heapq.heappush(ready, (rank, now, queued, step))
            queued += 1

    running: list[tuple[float, int, str]] = []
    now = 0.0
    for step in steps:
        if waiting[step] == 0:
            enqueue(step, now)
    while ready or running:
        while ready and len(running) < slots:
            _, _, order, step = heapq.heappop(ready)
            heapq.heappush(running, (now + seconds[step], order, step))
        now, _, step = heapq.heappop(running)
        unfinished[step] -= 1
        if unfinished[step] == 0:
            for child in dependents[step]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    enqueue(child, now)
    return now


def graham_bound(steps: Mapping[str, Sequence[str]], seconds: Mapping[str, float],
                 sizes: Mapping[str, int], slots: int) -> float:
    """``work/m + (1 - 1/m) * longest chain``: no list schedule takes longer."""
    work = sum(seconds[s] * sizes.get(s, 1) for s in steps)
    longest: dict[str, float] = {}

    def chain(step: str) -> float:
        if step not in longest:
            longest[step] = seconds[step] + max((chain(d) for d in steps[step]), default=0.0)
        return longest[step]

    return work / slots + (1 - 1 / slots) * max((chain(s) for s in steps), default=0.0)
