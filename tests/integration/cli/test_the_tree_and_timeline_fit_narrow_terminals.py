"""The live tree and the timeline laid out for a terminal's width: a child run
under the step that submitted it, a bar with done/total for a map step, and at
40 columns every line cut to fit (an ellipsis), never wrapped. Pure logic: the
model is fed events as the stream would deliver them."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from htdag.notifications.events import Event
from htdag.progress import RunTreeState, timeline, tree_lines
from htdag.terminal import render_tree

ROOT, CHILD = uuid.uuid4(), uuid.uuid4()
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LONG_GOAL = "compare postgres logical replication with redis streams for change capture"


def event(n: int, kind: str, run: uuid.UUID, at: str | None = None, **data: Any) -> Event:
    """Event ``n`` of the stream (at second ``n``); ``at``: its step."""
    return Event(id=n, kind=kind, run_id=run, root_run_id=ROOT, step=at, task_index=None,
                 created_at=T0 + timedelta(seconds=n), data=data)


def a_run_in_progress() -> RunTreeState:
    """The root's step ``left`` submitted a child run whose map step has done 2 of 4."""
    state = RunTreeState(ROOT)
    for e in [event(0, "run.started", ROOT),
              event(1, "decomposition.completed", ROOT, goal=LONG_GOAL),
              event(2, "step.started", ROOT, "left", tasks=1),
              event(3, "step.started", ROOT, "verdict_with_a_rather_long_name", tasks=1),
              event(4, "run.started", CHILD, parent_run_id=str(ROOT)),
              event(5, "subgoal.submitted", ROOT, child_run_id=str(CHILD), step="left",
                    goal="research postgres logical replication"),
              event(6, "step.started", CHILD, "search", tasks=1),
              event(7, "step.completed", CHILD, "search"),
              event(8, "step.started", CHILD, "__summarize_items", tasks=1),
              event(9, "step.started", CHILD, "summarize", tasks=4),
              event(10, "task.completed", CHILD, "summarize"),
              event(11, "task.retrying", CHILD, "summarize", attempt=1, error="flaky"),
              event(12, "task.completed", CHILD, "summarize")]:
        state.apply(e)
    return state


def draw(state: RunTreeState, width: int) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=True, color_system=None).print(
        render_tree(state))
    return out.getvalue().splitlines()


def test_child_runs_hang_under_the_step_that_submitted_them() -> None:
    state = a_run_in_progress()
    shape = [(depth, getattr(item, "name", None) or item.title)  # type: ignore[union-attr]
             for depth, item in tree_lines(state)]
    assert shape == [(0, LONG_GOAL), (1, "left"),
                     (2, "research postgres logical replication"), (3, "search"),
                     (3, "summarize"), (1, "verdict_with_a_rather_long_name")]
    summarize = state.runs[CHILD].steps["summarize"]
    assert (summarize.status, summarize.done, summarize.total, summarize.retries) == (
        "running", 2, 4, 1)


def test_a_wide_terminal_shows_everything() -> None:
    lines = draw(a_run_in_progress(), 120)
    assert lines[0].startswith(f"▶ {LONG_GOAL}  ")
    assert lines[2].startswith("│   └── ▶ research postgres logical replication  ")
    [bar] = [line for line in lines if "summarize" in line]
    assert bar.endswith(" ━━━━━━━━━━━━━━━━━━━━━━━━ 2/4  ↻1")
    assert not any("…" in line for line in lines)


def test_forty_columns_cut_lines_and_keep_the_tree() -> None:
    lines = draw(a_run_in_progress(), 40)
    assert len(lines) == 6  # one line per node: nothing wrapped
    assert all(len(line) <= 40 for line in lines)
    assert lines[0] == f"▶ {LONG_GOAL[:37]}…"
    assert lines[5].startswith("└── ▶ verdict_with_a_rather_long_name")
    [bar] = [line for line in lines if "summarize" in line]
    assert "2/4" in bar and "━━━━" in bar  # the bar shrank, the counts stayed


def test_the_timeline_fits_forty_columns() -> None:
    state = a_run_in_progress()
    state.apply(event(20, "step.completed", CHILD, "summarize"))
    state.apply(event(21, "run.completed", CHILD))
    for step in ("left", "verdict_with_a_rather_long_name"):
        state.apply(event(22, "step.completed", ROOT, step))
    state.apply(event(23, "run.completed", ROOT))
    wide = timeline(state).splitlines()
    narrow = timeline(state, columns=40).splitlines()
    assert len(wide) == len(narrow) == 6  # 5 spans and the time axis
    assert max(map(len, wide)) > 60 and all(len(line) <= 40 for line in narrow)
    assert narrow[1].startswith("  > research") and "…" in narrow[1]
    assert narrow[3].rstrip().endswith("ms") and "#" in narrow[3]
    assert narrow[-1].endswith(" 20.00s")  # from the first step (2 s) to the last (22 s)


def test_a_failure_shows_where_and_why() -> None:
    state = a_run_in_progress()
    state.apply(event(13, "task.failed", CHILD, "summarize", error="source unreadable"))
    state.apply(event(14, "step.failed", CHILD, "summarize", error="source unreadable"))
    state.apply(event(15, "run.failed", CHILD, error={"message": "step summarize failed"}))
    lines = draw(state, 120)
    [summarize] = [line for line in lines if "── ✘ summarize" in line]
    assert summarize.endswith("2/4  ↻1  source unreadable")
    [child] = [line for line in lines if "research postgres" in line]
    assert "✘ research postgres" in child and child.endswith("step summarize failed")
    assert state.runs[CHILD].steps["summarize"].failed == 1
    assert lines[0].startswith("▶ ")  # the root has not heard yet


def test_steps_left_unfinished_by_a_cancelled_run_show_as_cancelled() -> None:
    state = a_run_in_progress()
    state.apply(event(13, "run.cancelled", CHILD))
    steps = state.runs[CHILD].steps
    assert [(s.name, s.status) for s in steps.values()] == [("search", "completed"),
                                                           ("summarize", "cancelled")]
    assert steps["summarize"].finished_at == T0 + timedelta(seconds=13)
    assert state.runs[ROOT].steps["left"].status == "running"  # another run's step
