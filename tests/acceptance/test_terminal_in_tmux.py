"""``htdag run`` as a person sees it: the command runs in a real terminal (tmux)
and the screen is read back. The live tree (child runs under the step that
submitted them, a bar per map step), the timeline and the result are on the
screen; no control code shows as text; at 40 columns nothing wraps.

Needs tmux (/usr/bin/tmux). Each test uses a tmux server of its own (``-L``),
killed at the end."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from _acceptance import wait_until

pytestmark = pytest.mark.acceptance

HTDAG = Path(sys.executable).with_name("htdag")
# What a terminal would have interpreted, had it leaked as text.
LEAKED = re.compile(r"\x1b|\[\d+(;\d+)*m|\[\?25[lh]|\[2K|\[\d*[ABCDK]\b")


class Screen:
    """A detached tmux session of a given size running one shell command, on a
    tmux server of its own."""

    def __init__(self) -> None:
        self.socket = f"htdag-test-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TMUX")}
        self.env = {**env, "LANG": "C.UTF-8"}
        self.socket_path = (Path(self.env.get("TMUX_TMPDIR") or "/tmp")
                            / f"tmux-{os.getuid()}" / self.socket)

    def start(self, command: str, columns: int, rows: int) -> None:
        self._tmux("new-session", "-d", "-x", str(columns), "-y", str(rows),
                   f"{command}; echo EXIT=$?; sleep 30")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-u", "-L", self.socket, *args], env=self.env,
                              check=True, capture_output=True, text=True, timeout=10).stdout

    def text(self, styles: bool = False) -> str:
        """The screen and its history; a line the terminal wrapped is joined again.
        ``styles``: with the escape sequences of the colours and styles it shows."""
        return self._tmux("capture-pane", "-p", "-J", "-S", "-", *(["-e"] if styles else []))

    def send_keys(self, *keys: str) -> None:
        self._tmux("send-keys", *keys)

    def wait_for_exit(self, timeout: float = 12) -> tuple[int, str]:
        found = wait_until(lambda: re.search(r"^EXIT=(\d+)$", self.text(), re.M), timeout,
                           "the command to finish", interval=0.2)
        return int(found[1]), self.text()

    def close(self) -> None:
        """Kills the server (the session with it) and removes its socket file."""
        with contextlib.suppress(subprocess.SubprocessError):
            self._tmux("kill-server")
        self.socket_path.unlink(missing_ok=True)


@contextlib.contextmanager
def screen(command: str, columns: int, rows: int) -> Iterator[Screen]:
    opened = Screen()
    try:
        opened.start(command, columns, rows)
        yield opened
    finally:
        opened.close()


def htdag(dsn: str, *args: str) -> str:
    return shlex.join([str(HTDAG), "--url", dsn, *args])


def test_the_live_tree_then_the_timeline_at_100_columns(dsn: str) -> None:
    newest = (htdag(dsn, "runs", "--json", "--limit", "1")
              + f" | {shlex.quote(sys.executable)} -c "
              + shlex.quote("import json, sys; print(json.load(sys.stdin)[0]['run_id'])"))
    command = htdag(dsn, "run", "research postgres") + f' && {htdag(dsn, "status")} "$({newest})"'
    with screen(command, 100, 30) as tty:
        code, text = tty.wait_for_exit()
        styled = tty.text(styles=True)
    assert code == 0, text
    assert not LEAKED.search(text), text
    assert "\x1b[" in styled  # in colour: the terminal took the codes, none showed as text
    lines = text.splitlines()
    top = lines.index(next(line for line in lines if line.startswith("✔ research postgres")))
    assert re.match(r"✔ research postgres  \d+\.\d\ds  [0-9a-f]{8}$", lines[top])
    assert re.match(r"├── ✔ search  \d+\.\d\ds$", lines[top + 1])
    assert lines[top + 2] == "├── ✔ summarize " + "━" * 24 + " 4/4"
    assert re.match(r"└── ✔ report  \d+\.\d\ds$", lines[top + 3])
    assert "__summarize_items" not in text
    chart = lines[lines.index("timeline:") + 1:]
    assert [line.split(" |")[0].strip() for line in chart[:3]] == ["search", "summarize",
                                                                   "report"]
    assert "result: {" in text and '"topic": "postgres"' in text
    assert re.search(r"^done in \d+\.\d\ds \(run [0-9a-f-]{36}\)$", text, re.M)
    # Then `htdag status` draws the same tree once more, and the output cut to fit.
    assert lines.count("├── ✔ summarize " + "━" * 24 + " 4/4") == 2
    [output] = [line for line in lines if line.startswith("output: ")]
    assert len(output) == 100 and output.endswith("…")


def test_forty_columns_cut_lines_instead_of_wrapping(dsn: str) -> None:
    command = (htdag(dsn, "run", "compare postgres with redis") + "; "
               + htdag(dsn, "runs", "--all"))
    with screen(command, 40, 60) as tty:
        code, text = tty.wait_for_exit()
    assert code == 0, text
    assert not LEAKED.search(text), text
    lines = text.splitlines()
    assert all(len(line) <= 40 for line in lines), "a line wrapped:\n" + text
    # The tree: each subgoal under the step that submitted it.
    assert any(re.match(r"✔ compare postgres with redis  \d", line) for line in lines)
    left = lines.index(next(line for line in lines if line.startswith("├── ✔ left")))
    assert lines[left + 1].startswith("│   └── ✔ research postgres")
    assert "━ 4/4" in lines[left + 3] and "summarize" in lines[left + 3]
    assert any(line.startswith("└── ✔ verdict") for line in lines)
    assert "timeline:" in lines and any(line.startswith("  > research") for line in lines)
    # The result's long lines and the runs table are cut to fit, with an ellipsis.
    assert any(line.endswith("…") for line in lines)
    assert re.search(r"^run [0-9a-f-]{36}$", text, re.M)  # the id on a line of its own
    listed = [line for line in lines if line.startswith("completed  ")]
    assert len(listed) == 3  # the root and its two child runs, each on two lines


def test_ctrl_c_stops_the_live_view_and_exits_130(dsn: str) -> None:
    # One slot for 200 documents: several seconds of work, interrupted early.
    with screen(htdag(dsn, "demo", "--documents", "200", "-c", "1"), 80, 20) as tty:
        wait_until(lambda: re.search(r"analyse ━+ [1-9]\d*/200", tty.text()), 10,
                   "the map step's bar to move", interval=0.1)
        tty.send_keys("C-c")
        code, text = tty.wait_for_exit()
    assert code == 130, text
    assert "htdag: interrupted" in text and not LEAKED.search(text)
    assert "result:" not in text


@pytest.mark.parametrize("setting", ["NO_COLOR=1", "TERM=dumb"])
def test_no_color_or_a_dumb_terminal_get_plain_lines(dsn: str, setting: str) -> None:
    with screen(f"env {setting} " + htdag(dsn, "run", "research postgres"), 60, 40) as tty:
        code, text = tty.wait_for_exit()
        styled = tty.text(styles=True)
    assert code == 0, text
    assert "\x1b" not in styled  # not one colour or style: the command sent none
    assert re.search(r"^\[\s*\d+\.\d\ds\] summarize: started, 4 tasks$", text, re.M)
    assert "━" not in text and "✔" not in text  # no tree, no bar
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines), "a line wrapped:\n" + text
    assert any(line.endswith("…") for line in lines)  # the database line, cut to fit
