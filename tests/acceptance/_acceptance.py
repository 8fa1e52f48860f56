"""Helpers for the acceptance tests: worker processes started with the real
``htdag worker`` command, and checks made with plain SQL on ``htdag.*``.

Worker output goes to files under the test's tmp_path (never to a pipe that
nobody reads). :class:`WorkerProcesses` is a context manager: on exit it kills
every process it started that is still alive and prints every worker's log,
which pytest shows when the test failed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

import psutil
import psycopg
from psycopg.rows import dict_row

HERE = Path(__file__).resolve().parent
T = TypeVar("T")


# --- waiting ---------------------------------------------------------------------


def wait_until(predicate: Callable[[], T | None], timeout: float, what: str,
               interval: float = 0.05) -> T:
    """Polls ``predicate`` until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


# --- SQL ---------------------------------------------------------------------------


def query(dsn: str, sql: str, params: Sequence[Any] | dict[str, Any] = (),
          retry_for: float = 0.0) -> list[dict[str, Any]]:
    """Rows of one query on a fresh connection; retries connection errors for
    ``retry_for`` seconds (a server that is restarting)."""
    deadline = time.monotonic() + retry_for
    while True:
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                cur = conn.cursor(row_factory=dict_row)
                cur.execute(sql, params)
                return cur.fetchall()
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def run_statuses(dsn: str, run_ids: Iterable[uuid.UUID], retry_for: float = 0.0
                 ) -> dict[uuid.UUID, dict[str, Any]]:
    rows = query(dsn, "select run_id, status::text as status, output, error from htdag.runs"
                      " where run_id = any(%s)", (list(run_ids),), retry_for=retry_for)
    return {r["run_id"]: r for r in rows}


def wait_runs_finished(dsn: str, run_ids: Sequence[uuid.UUID], timeout: float,
                       retry_for: float = 0.0) -> dict[uuid.UUID, dict[str, Any]]:
    """Waits until no run is 'running' (polling with plain SQL, so it survives a
    server restart); returns each run's status, output and error."""
    deadline = time.monotonic() + timeout
    while True:
        runs = run_statuses(dsn, run_ids, retry_for=retry_for)
        assert set(runs) == set(run_ids), "some runs are missing from htdag.runs"
        running = [r for r in runs.values() if r["status"] == "running"]
        if not running:
            return runs
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{len(running)} of {len(run_ids)} runs still running after {timeout:g}s; "
                f"tasks not completed:\n{describe_unfinished_tasks(dsn, run_ids)}")
        time.sleep(0.1)


def describe_unfinished_tasks(dsn: str, run_ids: Sequence[uuid.UUID]) -> str:
    rows = query(dsn, "select run_id, step_name, task_index, status::text, attempts_count,"
                      " worker_id, lease_expires_at, available_at, error from htdag.tasks"
                      " where run_id = any(%s) and status <> 'completed'"
                      " order by run_id, step_name, task_index limit 50",
                 (list(run_ids),), retry_for=10)
    return "\n".join(str(r) for r in rows) or "(none)"


def tasks_of(dsn: str, run_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    return query(dsn, "select task_id, run_id, step_name, task_index, status::text as status,"
                      " attempts_count, worker_id from htdag.tasks where run_id = any(%s)"
                      " order by run_id, step_name, task_index", (list(run_ids),))


def attempts_of(dsn: str, run_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    return query(dsn, "select task_id, attempt, step_name, worker_id, outcome, error"
                      " from htdag.attempts where run_id = any(%s)"
                      " order by task_id, attempt", (list(run_ids),))


def assert_each_task_completed_once(dsn: str, run_ids: Sequence[uuid.UUID],
                                    expected_tasks: int) -> list[dict[str, Any]]:
    """Every task of these runs is completed, once per (run, step, index), with
    exactly one 'completed' attempt; returns the tasks."""
    tasks = tasks_of(dsn, run_ids)
    assert len(tasks) == expected_tasks, f"expected {expected_tasks} tasks, found {len(tasks)}"
    keys = [(t["run_id"], t["step_name"], t["task_index"]) for t in tasks]
    assert len(set(keys)) == len(keys), "a (run, step, index) has more than one task row"
    not_completed = [t for t in tasks if t["status"] != "completed"]
    assert not not_completed, f"tasks not completed: {not_completed[:10]}"

    completed_attempts: dict[int, int] = {}
    for a in attempts_of(dsn, run_ids):
        if a["outcome"] == "completed":
            completed_attempts[a["task_id"]] = completed_attempts.get(a["task_id"], 0) + 1
    twice = {k: v for k, v in completed_attempts.items() if v != 1}
    assert not twice, f"tasks with more than one 'completed' attempt: {twice}"
    missing = [t for t in tasks if t["task_id"] not in completed_attempts]
    assert not missing, f"completed tasks without a 'completed' attempt: {missing[:10]}"
    return tasks


# --- sessions of a worker ------------------------------------------------------------
# Start a worker with env={"PGAPPNAME": name}: its sessions, and only them, carry that name.


def kill_sessions(dsn: str, application_name: str) -> list[str]:
    """pg_terminate_backend on every session of this application in the test's
    own database, all at once (a wait for each would let the worker see them die
    one by one); then waits until they have ended. Returns their last queries."""
    rows = query(dsn, "select pid, query, pg_terminate_backend(pid) as signalled"
                      " from pg_stat_activity"
                      " where datname = current_database() and application_name = %s",
                 (application_name,))
    assert all(r["signalled"] for r in rows), rows
    pids = [r["pid"] for r in rows]
    wait_until(lambda: not query(dsn, "select 1 from pg_stat_activity where pid = any(%s)",
                                 (pids,)), 10, "the killed sessions to end", interval=0.01)
    return [str(r["query"]) for r in rows]


def listening(dsn: str, application_name: str) -> bool:
    """Whether a session of this application LISTENs (its last query was one)."""
    rows = query(dsn, "select 1 from pg_stat_activity where datname = current_database()"
                      " and application_name = %s and query ilike 'listen %%'",
                 (application_name,))
    return bool(rows)


# --- worker processes -----------------------------------------------------------------


@dataclass
class WorkerProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    dsn: str
    _log_file: Any = field(repr=False, default=None)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_registered(self, timeout: float = 20.0, retry_for: float = 0.0) -> uuid.UUID:
        """Waits for its row in htdag.workers; returns its worker id."""

        def check() -> uuid.UUID | None:
            if not self.alive():
                raise AssertionError(f"worker {self.name} exited with {self.popen.returncode} "
                                     f"before registering:\n{self.log()}")
            rows = query(self.dsn, "select worker_id from htdag.workers where pid = %s",
                         (self.pid,), retry_for=retry_for)
            return uuid.UUID(str(rows[0]["worker_id"])) if rows else None

        return wait_until(check, timeout, f"worker {self.name} to register")

    def signal(self, sig: int) -> None:
        if self.alive():
            self.popen.send_signal(sig)

    def kill(self) -> None:
        if self.alive():
            self.popen.kill()
        self.popen.wait(timeout=30)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker {self.name} did not exit within {timeout:g}s:\n"
                                 f"{self.log()}") from None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"


class WorkerProcesses:
    """Starts ``htdag worker`` processes; kills leftovers and prints logs on exit."""

    def __init__(self, dsn: str, log_dir: Path) -> None:
        self.dsn = dsn
        self.log_dir = log_dir
        self.procs: list[WorkerProcess] = []

    def start(self, handlers: str, *, name: str | None = None, concurrency: int = 4,
              lease: float = 2.0, poll_interval: float = 0.2,
              shutdown_timeout: float | None = None, env: dict[str, str] | None = None,
              dsn: str | None = None) -> WorkerProcess:
        name = name or f"worker{len(self.procs) + 1}"
        url = dsn or self.dsn
        cmd = [sys.executable, "-m", "htdag.cli", "-v", "--url", url, "worker",
               str(HERE / handlers), "--concurrency", str(concurrency), "--lease", str(lease),
               "--poll-interval", str(poll_interval)]
        if shutdown_timeout is not None:
            cmd += ["--shutdown-timeout", str(shutdown_timeout)]
        log_path = self.log_dir / f"{name}.log"
        log_file = log_path.open("wb")
        child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file,
                                 stderr=subprocess.STDOUT, env=child_env, cwd=self.log_dir)
        proc = WorkerProcess(name, popen, log_path, url, log_file)
        self.procs.append(proc)
        return proc

    def stop_all(self, timeout: float = 20.0) -> None:
        """SIGTERM to every live worker, then waits for them to exit."""
        for p in self.procs:
            p.signal(signal.SIGTERM)
        for p in self.procs:
            p.wait_exit(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self.procs:
            try:
                p.kill()
            finally:
                if p._log_file is not None:
                    p._log_file.close()
        for p in self.procs:
            print(f"----- {p.name} (pid {p.pid}, exit {p.popen.returncode}) -----")
            print(p.log())


# --- a private server ------------------------------------------------------------------


@contextlib.contextmanager
def private_server() -> Iterator[tuple[Path, str]]:
    """An embedded server of the test's own, in a short temp dir (unix socket paths
    stop at about 100 characters), that it may stop and restart: (data dir, URL).
    Never the shared test server. Stopped, whatever happens, on exit."""
    from htdag.core import embedded

    root = Path(tempfile.mkdtemp(prefix="htp", dir="/tmp"))
    pgdata = root / "pg"
    try:
        yield pgdata, embedded.ensure_server(pgdata)
    finally:
        try:
            embedded.stop_server(pgdata)
        finally:
            target = str(pgdata.resolve())
            for proc in psutil.process_iter(["name", "cmdline"]):  # never leave one behind
                if proc.info["name"] == "postgres" and target in (proc.info["cmdline"] or []):
                    proc.kill()
            shutil.rmtree(root, ignore_errors=True)
