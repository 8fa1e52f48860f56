"""The terminal views of htdag's commands: a live tree of a run and its
subgoals with a progress bar per map step (rich), the same tree drawn once
(``htdag status``), and tables. Each has a plain form for pipes, files, CI,
``TERM=dumb`` and ``NO_COLOR``: text with no control codes at all.

rich is imported here only: ``import htdag`` does not import this module."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from .progress import RunTreeState, RunView, StepView, fit, tree_lines

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.live import Live
    from rich.text import Text
    from rich.tree import Tree

    from .core.engine import AsyncEngine

# Narrower than this, the tree's guides leave no room: plain lines, cut to fit.
MIN_TREE_COLUMNS = 24
_ICONS = {"running": ("▶", "cyan"), "completed": ("✔", "green"), "failed": ("✘", "bold red"),
          "cancelled": ("⊘", "yellow"), "waiting": ("·", "dim")}
_BAR_MAX = 24


def rich_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (stdout) is a terminal that takes control codes: not a
    pipe or file, not ``TERM=dumb``, no ``NO_COLOR`` set."""
    out = stream or sys.stdout
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb" \
        and not os.environ.get("NO_COLOR")


def terminal_columns(stream: TextIO | None = None) -> int | None:
    """The width of the terminal ``stream`` writes to; None for a pipe or file."""
    out = stream or sys.stdout
    try:
        return os.get_terminal_size(out.fileno()).columns if out.isatty() else None
    except (AttributeError, OSError, ValueError):
        return None


def make_console(stream: TextIO | None = None) -> Console:
    from rich.console import Console

    return Console(file=stream or sys.stdout, highlight=False, soft_wrap=False)


def duration_text(seconds: float | None) -> str:
    """``0.32s``, ``4m05s``, ``2h03m``; empty when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _elapsed(start: datetime | None, end: datetime | None) -> float | None:
    if start is None:
        return None
    return ((end or datetime.now(UTC)) - start).total_seconds()


class _Line:
    """One node of the tree, laid out for the width rich gives it: the bar of a
    map step shrinks first, then the text is cut with an ellipsis, never wrapped."""

    def __init__(self, item: RunView | StepView) -> None:
        self.item = item

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        item, width = self.item, options.max_width
        icon, style = _ICONS.get(item.status, ("?", ""))
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append(f"{icon} ", style=style)
        if isinstance(item, RunView):
            text.append(item.title, style="bold")
            text.append(f"  {duration_text(_elapsed(item.started_at, item.finished_at))}")
            text.append(f"  {str(item.run_id)[:8]}", style="dim")
        else:
            text.append(item.name)
            self._step_progress(text, item, width)
        if item.error:
            text.append(f"  {item.error}", style="red")
        text.truncate(width, overflow="ellipsis")
        yield text

    @staticmethod
    def _step_progress(text: Text, step: StepView, width: int) -> None:
        total = step.total or 0
        retries = f"  ↻{step.retries}" if step.retries else ""
        if total > 1:  # a map step: a bar, then done/total
            count = f" {step.done}/{total}"
            bar = min(_BAR_MAX, width - text.cell_len - len(count) - len(retries) - 1)
            if bar >= 4:
                filled = round(bar * step.done / total)
                text.append(" ")
                text.append("━" * filled, style="green" if step.status != "failed" else "red")
                text.append("━" * (bar - filled), style="grey37")
            text.append(count)
        elif step.status == "waiting":
            text.append("  waiting", style="dim")
        elif step.status != "running":
            text.append(f"  {duration_text(_elapsed(step.started_at, step.finished_at))}",
                        style="dim")
        text.append(retries, style="yellow")


def render_tree(state: RunTreeState) -> Tree:
    """The run tree as a rich Tree: runs, their steps, child runs under the step
    that submitted them."""
    from rich.tree import Tree

    nodes: list[Tree] = []
    root: Tree | None = None
    for depth, item in tree_lines(state):
        if root is None:
            root = Tree(_Line(item), guide_style="dim")
            nodes = [root]
            continue
        node = nodes[depth - 1].add(_Line(item))
        nodes[depth:] = [node]
    assert root is not None
    return root


def plain_tree(state: RunTreeState, width: int | None = None) -> list[str]:
    """The run tree as indented text lines, for pipes and files."""
    lines = []
    for depth, item in tree_lines(state):
        if isinstance(item, RunView):
            took = duration_text(_elapsed(item.started_at, item.finished_at))
            line = f"{item.title}  [{item.status}]  run {item.run_id}  {took}"
        else:
            total = "?" if item.total is None else str(item.total)
            line = f"{item.name}  [{item.status}]  {item.done}/{total} tasks"
            if item.failed:
                line += f", {item.failed} failed"
            if item.retries:
                line += f", {item.retries} retries"
        if item.error:
            line += f"  error: {item.error}"
        lines.append(fit("  " * depth + line, width))
    return lines


class _LiveTree:
    """What rich.live redraws: the tree as the state says now."""

    def __init__(self, state: RunTreeState) -> None:
        self.state = state

    def __rich__(self) -> Tree:
        return render_tree(self.state)


async def follow_live(engine: AsyncEngine, run_id: uuid.UUID, console: Console
                      ) -> RunTreeState:
    """Draws the run tree live until the run finishes; the last frame stays.
    Redrawn from the event loop (8 times a second, however many events came),
    never from another thread, so a frame never sees the model half changed."""
    from rich.live import Live

    from .notifications.stream import alisten

    state = RunTreeState(run_id)
    with Live(_LiveTree(state), console=console, auto_refresh=False,
              vertical_overflow="ellipsis") as live:
        redraw = asyncio.create_task(_redraw(live, 1 / 8))
        try:
            async for event in alisten(engine, run_id, since=0, until_done=True):
                if event.kind == "run.started" and event.run_id is not None:
                    # Its steps, so the ones still waiting show too, and its flow's name.
                    row = await engine.store.get_run(event.run_id) or {}
                    state.add_details(await engine.status(event.run_id),
                                      row.get("flow_name"), counts=False)
                state.apply(event)
        finally:
            redraw.cancel()
    return state


async def _redraw(live: Live, interval: float) -> None:
    while True:
        live.refresh()
        await asyncio.sleep(interval)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                stream: TextIO | None = None, second_line: Sequence[int] = ()) -> None:
    """A table: text columns separated by two spaces (the last one unpadded) in a
    pipe or a terminal wide enough; in a narrower terminal each row takes two
    lines, the ``second_line`` columns indented under the others, cut to fit."""
    out = stream or sys.stdout
    lines = list(_plain_rows(headers, rows))
    columns = terminal_columns(out)
    if columns is None or max(map(len, lines), default=0) <= columns:
        if rich_terminal(out) and lines:  # the header in bold, nothing else changes
            from rich.text import Text

            console = make_console(out)
            console.print(Text(lines[0], style="bold", no_wrap=True, overflow="ellipsis"))
            for line in lines[1:]:
                console.print(Text(line, no_wrap=True, overflow="ellipsis"))
        else:
            print("\n".join(lines), file=out)
        return
    first = [i for i in range(len(headers)) if i not in second_line]
    for row in rows:
        print(fit("  ".join(row[i] for i in first), columns), file=out)
        print(fit("  " + "  ".join(row[i] for i in second_line), columns), file=out)


def _plain_rows(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Iterator[str]:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=True)]
        yield "  ".join([*cells, row[-1]]).rstrip()
