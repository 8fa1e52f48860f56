"""prune_events() and the CLI: `htdag prune-events --older-than`, `htdag
events [--run ID]` and `htdag events --follow`."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest

import htdag
from htdag import Flow
from htdag.cli import main
from htdag.core.engine import AsyncEngine
from htdag.notifications import aprune_events, prune_events

from .._support import Db

BACKDATE = "update htdag.events set created_at = now() - %s::interval where event_id = any(%s)"


def echo_flow() -> Flow:
    flow = Flow("cli_echo")

    @flow.step()
    def echo(inp: Any) -> Any:
        return inp

    return flow


async def test_prune_removes_events_older_than_the_age_and_keeps_newer(
        engine: AsyncEngine, db: Db) -> None:
    flow = echo_flow()
    for n in range(3):
        await engine.start(flow, n)
    every = [r["event_id"] for r in await db.rows("select event_id from htdag.events"
                                                  " order by event_id")]
    await db.execute(BACKDATE, ("8 days", every[:2]))
    await db.execute(BACKDATE, ("2 hours", every[2:4]))

    assert await aprune_events(engine, timedelta(days=7)) == 2
    assert await aprune_events(engine, 3600) == 2  # seconds work too
    left = [r["event_id"] for r in await db.rows("select event_id from htdag.events"
                                                 " order by event_id")]
    assert left == every[4:]
    with pytest.raises(ValueError, match="negative"):
        await aprune_events(engine, -1)




def count_events(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select count(*) from htdag.events").fetchone()
        assert row is not None
        return int(row[0])


def test_the_sync_prune_events_works_on_a_sync_engine(sync_engine: htdag.Engine,
                                                      dsn: str) -> None:
    sync_engine.start(echo_flow(), 1)
    with psycopg.connect(dsn) as conn:
        conn.execute("update htdag.events set created_at = now() - interval '1 day'")
    assert prune_events(sync_engine, timedelta(hours=1)) == 2
    assert count_events(dsn) == 0


def test_the_prune_events_command_deletes_old_events(
        sync_engine: htdag.Engine, dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    sync_engine.start(echo_flow(), 1)
    with psycopg.connect(dsn) as conn:
        conn.execute("update htdag.events set created_at = now() - interval '2 days'")

    assert main(["--url", dsn, "prune-events", "--older-than", "7d"]) == 0
    assert capsys.readouterr().out.strip() == "deleted 0 events"
    assert main(["--url", dsn, "prune-events", "--older-than", "1d"]) == 0
    assert capsys.readouterr().out.strip() == "deleted 2 events"
    sync_engine.start(echo_flow(), 2)
    assert main(["--url", dsn, "prune-events", "--older-than", "0s"]) == 0
    assert capsys.readouterr().out.strip() == "deleted 2 events"
    assert count_events(dsn) == 0


def test_the_prune_events_command_refuses_a_bad_duration(
        dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", dsn, "prune-events", "--older-than", "a week"]) == 2
    assert "not a duration" in capsys.readouterr().err


def test_the_events_command_prints_a_runs_events(
        sync_engine: htdag.Engine, dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    flow = echo_flow()
    run = sync_engine.start(flow, 1)
    child = sync_engine.start(flow, 2, parent_run_id=run.run_id)
    other = sync_engine.start(flow, 3)

    assert main(["--url", dsn, "events", "--run", str(run.run_id)]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in lines] == [
        "run.started", "step.started", "run.started", "step.started"]
    assert all(f"run={str(run.run_id)[:8]}" in line or f"run={str(child.run_id)[:8]}" in line
               for line in lines)
    assert not any(str(other.run_id)[:8] in line for line in lines)

    assert main(["--url", dsn, "events", "--kind", "run.started", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in lines] == ["run.started", "run.started"]
    assert str(other.run_id)[:8] in lines[-1]


def test_the_events_command_says_what_is_wrong_with_its_input(
        dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    missing = uuid.uuid4()
    assert main(["--url", dsn, "events", "--run", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    assert main(["--url", dsn, "events", "--kind", "task.exploded"]) == 2
    assert "unknown event kind 'task.exploded'" in capsys.readouterr().err
    assert main(["--url", dsn, "events", "-f", "--since", "999"]) == 2
    assert "no event has id 999" in capsys.readouterr().err


class Follower:
    """`htdag events --follow ...` in a subprocess, its lines read as they come."""

    def __init__(self, dsn: str, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "htdag.cli", "--url", dsn, "events", "--follow", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, pattern: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} within {timeout}s; "
                                     f"got {self.seen}") from None
            self.seen.append(line)
            if re.search(pattern, line):
                return line

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self.reader.join(10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def printed_ids(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for line in lines if (m := re.match(r"#(\d+) ", line))]


def test_events_follow_prints_a_runs_events_as_they_happen(
        sync_engine: htdag.Engine, dsn: str) -> None:
    flow = echo_flow()
    run = sync_engine.start(flow, "hello")
    follower = Follower(dsn, "--run", str(run.run_id))
    try:
        follower.until(r" step\.started ")  # the history so far
        with sync_engine.start_worker([flow], poll_interval=0.05):
            follower.until(r" run\.completed ")
    finally:
        follower.close()

    with psycopg.connect(dsn) as conn:
        table = [r[0] for r in conn.execute(
            "select event_id from htdag.events where root_run_id = %s order by tx_id, event_id",
            (run.run_id,))]
    assert printed_ids(follower.seen) == table
    assert [line.split()[2] for line in follower.seen] == [
        "run.started", "step.started", "task.started", "task.completed", "step.completed",
        "run.completed"]


def test_events_follow_prints_an_event_that_commits_after_a_newer_one(dsn: str) -> None:
    insert = "select htdag.record_event(%s, null, null)"
    with psycopg.connect(dsn) as slow, psycopg.connect(dsn, autocommit=True) as fast:
        late = slow.execute(insert, ("subgoal.submitted",)).fetchone()[0]  # type: ignore[index]
        early = fast.execute(insert, ("subgoal.completed",)).fetchone()[0]  # type: ignore[index]
        follower = Follower(dsn)
        try:
            # The follower is listening; the newer event is held back while the older
            # transaction is open, so nothing can be skipped when that one commits.
            deadline = time.monotonic() + 15
            while not fast.execute("select 1 from pg_stat_activity where query ilike 'listen%%'"
                                   " and datname = current_database()").fetchone():
                assert time.monotonic() < deadline, "the follower never listened"
                time.sleep(0.05)
            time.sleep(0.3)
            slow.commit()
            last = fast.execute(insert, ("optimizer.applied",)).fetchone()[0]  # type: ignore[index]
            follower.until(rf"^#{last} ")
        finally:
            follower.close()

    # every event, each once, in stream order (the older transaction's first)
    assert printed_ids(follower.seen) == [late, early, last]
