"""A timeline (Gantt chart) of a run tree: one bar per task, from its start to
its end, coloured by status, on a time axis in seconds.

Rows are per step, with lanes: the tasks of a map step share as few rows as
never overlap (up to a cap), so a 1,000-element map stays a few rows high. The
child runs of a subgoal follow the step that waits for them, indented under a
row that spans the child run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..core._portal import portal
from ..core.engine import AsyncEngine, RunId
from ..core.models import RunDetails, Task
from ..core.sync import Engine
from ._svg import SvgDocument, shorten, text_width
from .picture import Picture
from .runs import COLOURS, LEGEND, load_run_tree

ROW = 20.0
BAR = 13.0
CHART_WIDTH = 640.0
MAX_LANES = 12  # per step; more tasks at once share lanes
INDENT = "    "


@dataclass
class _Bar:
    start: datetime
    end: datetime
    status: str
    tooltip: str
    css_class: str = "bar"


@dataclass
class _Row:
    label: str
    bars: list[_Bar] = field(default_factory=list)
    header: bool = False  # the row of a child run


def _end(task: Task, now: datetime) -> datetime:
    return task.completed_at or task.failed_at or task.cancelled_at or now


def _step_label(step: str) -> str:
    return f"{step[2:].removesuffix('_items')} (items)" if step.startswith("__") else step


def _lanes(tasks: list[Task], now: datetime) -> list[list[Task]]:
    """Tasks in as few lanes as never overlap, at most MAX_LANES (then they share)."""
    lanes: list[list[Task]] = []
    ends: list[datetime] = []
    for task in sorted(tasks, key=lambda t: (t.started_at, t.task_index)):
        assert task.started_at is not None
        free = next((i for i, end in enumerate(ends) if end <= task.started_at), None)
        if free is None and len(lanes) >= MAX_LANES:
            free = min(range(len(ends)), key=lambda i: ends[i])
        if free is None:
            lanes.append([])
            ends.append(task.started_at)
            free = len(lanes) - 1
        lanes[free].append(task)
        ends[free] = max(ends[free], _end(task, now))
    return lanes


def _rows_of_run(details: RunDetails, tree: Sequence[RunDetails], depth: int, now: datetime
                 ) -> list[_Row]:
    rows: list[_Row] = []
    run = details.run
    if depth > 0:
        goal = run.input.get("goal") if isinstance(run.input, dict) else None
        end = run.completed_at or run.failed_at or run.cancelled_at or now
        label = f"{INDENT * (depth - 1)}> {goal or str(run.run_id)[:8]}"
        rows.append(_Row(label, [_Bar(run.started_at, end, run.status.value,
                                      f"run {run.run_id} {run.status.value}", "run-bar")],
                         header=True))
    prefix = INDENT * depth
    for step in details.steps:
        tasks = [t for t in details.tasks if t.step_name == step.step_name]
        started = [t for t in tasks if t.started_at is not None]
        waiting = len(tasks) - len(started)
        label = prefix + _step_label(step.step_name)
        if not started:
            label += f" ({step.status.value}, no task started)"
        elif waiting:
            label += f" ({waiting} not started)"
        for i, lane in enumerate(_lanes(started, now) or [[]]):
            rows.append(_Row(label if i == 0 else "", [_task_bar(t, now) for t in lane]))
        ids = {t.task_id for t in tasks}
        for child in tree:
            if child.run.parent_run_id == run.run_id and child.run.parent_task_id in ids:
                rows += _rows_of_run(child, tree, depth + 1, now)
    return rows


def _task_bar(task: Task, now: datetime) -> _Bar:
    assert task.started_at is not None
    end = _end(task, now)
    seconds = (end - task.started_at).total_seconds()
    where = f"{task.step_name}[{task.task_index}]"
    return _Bar(task.started_at, end, task.status.value,
                f"{where} {task.status.value} {seconds:.3f}s, attempt {task.attempts_count}")


def _tick_step(total: float) -> float:
    """A round tick interval (1, 2 or 5 times a power of ten) for about 6 ticks."""
    raw = max(total, 1e-3) / 6
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def timeline_svg(tree: Sequence[RunDetails], *, now: datetime | None = None) -> str:
    """SVG of the timeline of a run tree (the root first, as ``run_tree`` gives it).
    Tasks still running end at ``now`` (default: the present while a run of the
    tree goes on, else the latest time recorded)."""
    if not tree:
        raise ValueError("timeline_svg needs at least the root run's details")
    times = [t for d in tree for task in d.tasks
             for t in (task.started_at, task.completed_at, task.failed_at, task.cancelled_at)
             if t is not None] + [d.run.started_at for d in tree]
    if now is None:  # a run still going: its running tasks reach the present
        running = any(not d.run.status.finished for d in tree)
        now = max([*times, datetime.now(UTC)]) if running else max(times)
    rows = _rows_of_run(tree[0], tree, 0, now)
    t0 = min(times)
    total = max((max([*times, now]) - t0).total_seconds(), 1e-3)
    label_width = max([text_width(r.label, 11) for r in rows] + [60.0]) + 16
    root = tree[0].run
    goal = root.input.get("goal") if isinstance(root.input, dict) else None
    title = (f"Timeline of run {str(root.run_id)[:8]}" + (f": {goal}" if goal else "")
             + f" ({root.status.value})")
    top, left = 58.0, 16.0 + label_width
    height = top + ROW * len(rows) + 46
    document = SvgDocument(left + CHART_WIDTH + 40, height, title)
    document.text(16, 24, title, size=13, bold=True, css_class="diagram-title")
    scale = CHART_WIDTH / total
    _draw_axis(document, left, top, ROW * len(rows), total, scale)
    for i, row in enumerate(rows):
        y = top + i * ROW
        if row.label:
            document.text(16, y + 14, shorten(row.label, 60), size=11, bold=row.header)
        for bar in row.bars:
            x = left + (bar.start - t0).total_seconds() * scale
            width = max((bar.end - bar.start).total_seconds() * scale, 2.0)
            fill, stroke, _ = COLOURS.get(bar.status, COLOURS["created"])
            document.rect(x, y + (ROW - BAR) / 2, width, BAR, fill=fill, stroke=stroke,
                          radius=2, stroke_width=1, dashed=bar.css_class == "run-bar",
                          css_class=f"{bar.css_class} status-{bar.status}", tooltip=bar.tooltip)
    legend_x, legend_y = 16.0, height - 14
    for label, colour in LEGEND:
        document.rect(legend_x, legend_y - 9, 12, 12, fill=colour, radius=2, stroke_width=0)
        document.text(legend_x + 16, legend_y + 1, label, size=11)
        legend_x += 30 + text_width(label, 11)
    return document.render()


def _draw_axis(document: SvgDocument, left: float, top: float, height: float, total: float,
               scale: float) -> None:
    step = _tick_step(total)
    document.line([(left, top - 6), (left + total * scale, top - 6)], arrow=False)
    tick = 0.0
    while tick <= total + 1e-9:
        x = left + tick * scale
        document.line([(x, top - 10), (x, top + height)], stroke="#d0d7de", width=0.8,
                      arrow=False, css_class="gridline")
        document.text(x, top - 14, f"{tick:g}s", size=10, anchor="middle", css_class="tick")
        tick = round(tick + step, 9)


async def atimeline(engine: AsyncEngine, run_id: RunId) -> Picture:
    """The timeline of a run and its child runs, read through ``engine``."""
    loaded = await load_run_tree(engine, run_id)
    svg = timeline_svg(loaded.runs)
    return Picture(svg, f"timeline of run {loaded.runs[0].run.run_id}")


def timeline(engine: Engine, run_id: RunId) -> Picture:
    """The sync form of :func:`atimeline` (works inside Jupyter's running loop)."""
    return portal().call(atimeline(engine.aio, run_id))
