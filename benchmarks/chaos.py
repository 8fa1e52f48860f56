"""Chaos test: worker processes SIGKILLed at random while runs with map steps
progress, then an audit of the database with plain SQL.

    .venv/bin/python benchmarks/chaos.py                   # 300 kills (make chaos)
    .venv/bin/python benchmarks/chaos.py --kills 20 --seed 7
    .venv/bin/python benchmarks/chaos.py --url postgresql://postgres@127.0.0.1:5432/postgres

The server is ``--url``, else HTDAG_DATABASE_URL / DATABASE_URL, else htdag's
embedded default (``htdag.core.db.resolve_url``). A fresh database
``htdag_chaos_<pid>`` is created on it and dropped at the end.

What happens: ``--workers`` real ``htdag worker`` processes (the CLI, each its
own process, with a short ``--lease`` so a killed worker's tasks come back
quickly) run the flow of ``benchmarks/chaos_handlers.py`` (gen -> square (map,
async) -> shift (map, sync) -> total); ``--runs-in-flight`` runs are kept going,
each with a random number of elements. Every ``--kill-interval-min`` to
``--kill-interval-max`` seconds a random live worker gets SIGKILL (one holding
started tasks when there is one) and a replacement is started, until
``--kills`` kills. Then no more runs are started, the driver waits for every run
to finish, stops the workers and audits:

* every run completed, with the output computed from its input;
* each (run, step, task_index) has one task row, completed, with exactly one
  'completed' attempt, whose number is the task's attempts_count and (map
  steps) the attempt written in the task's output;
* counters agree with the task rows: runs.remaining_steps = 0, and every step
  state completed with remaining_deps = 0, remaining_tasks = 0, initial_tasks =
  its task rows, and its output = its tasks' outputs (map steps: in index order);
* no task left queued, started or waiting, anywhere in the database.

Figures go to stdout, one ``name: value`` per line; progress goes to stderr
every few seconds. The exit code is 1 when the audit found a problem (each one
is printed), 0 otherwise. The seed (``--seed``, random by default) is printed:
it replays the same kill intervals, victims' order and run sizes, but not the
processes' timing, so a failure is replayed in kind, not to the millisecond.

Figures:

* ``kills``: SIGKILLs sent; ``kills_of_workers_holding_tasks``: how many of
  those hit a worker that held started tasks at that moment (by the database).
* ``runs``, ``tasks``: started runs, and the tasks they must have.
* ``tasks_lost``: tasks that should exist and are not completed (missing rows
  included).
* ``tasks_double_completed``: tasks with more than one 'completed' attempt row,
  plus map elements that appear more than once in their run's aggregate.
* ``reexecutions``: handler entries beyond the first per task, counted by the
  handlers themselves (each entry is appended to a per-process log that a
  SIGKILL cannot lose). ``attempts_not_completed`` is the engine's view: attempt
  rows whose outcome is not 'completed' (timed out, released, failed); a task
  claimed by a worker killed before it entered the handler has such a row but
  no handler entry.
* ``recovery_after_last_kill_s``: from the last kill until every run finished.
* ``elapsed_s``: the whole chaos phase, from the first worker's start to the
  end of the audit.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import psycopg

HERE = Path(__file__).resolve().parent
HANDLERS_FILE = HERE / "chaos_handlers.py"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import chaos_handlers  # noqa: E402  (the flow; every worker loads the same file)
from _databases import fresh_database  # noqa: E402
from chaos_audit import ChaosReport, StartedRun, audit, query  # noqa: E402


@dataclass
class ChaosSettings:
    kills: int = 300
    workers: int = 4
    concurrency: int = 4
    # Short, so a killed worker's tasks are claimed again about a second later;
    # long enough that a live worker's heartbeats (every lease / 3) keep up on a
    # busy 2-core machine.
    lease: float = 1.5
    poll_interval: float = 0.2
    kill_interval_min: float = 0.6
    kill_interval_max: float = 3.0
    runs_in_flight: int = 12
    elements_max: int = 20
    # A map task sleeps up to this long (square) and half of it (shift), so kills
    # land in the middle of handlers, not only between them.
    pause_max: float = 0.4
    seed: int = 0
    progress_every: float = 5.0
    finish_timeout: float = 300.0


def note(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


# --- SQL --------------------------------------------------------------------------


# --- worker processes ---------------------------------------------------------------


@dataclass
class ChaosWorker:
    number: int
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: Any = field(repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None


class ChaosWorkers:
    """``htdag worker`` processes on the chaos flow; whatever is still alive is
    SIGKILLed by :meth:`kill_all`, which callers run in a ``finally``."""

    def __init__(self, dsn: str, settings: ChaosSettings, log_dir: Path, entries_dir: Path
                 ) -> None:
        self.dsn = dsn
        self.settings = settings
        self.log_dir = log_dir
        self.entries_dir = entries_dir
        self.started: list[ChaosWorker] = []

    def start(self) -> ChaosWorker:
        s = self.settings
        number = len(self.started) + 1
        cmd = [sys.executable, "-m", "htdag.cli", "--url", self.dsn, "worker", str(HANDLERS_FILE),
               "--concurrency", str(s.concurrency), "--lease", str(s.lease),
               "--poll-interval", str(s.poll_interval), "--shutdown-timeout", "10"]
        log_path = self.log_dir / f"worker-{number:04d}.log"
        log_file = log_path.open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               chaos_handlers.ENTRIES_DIR_VARIABLE: str(self.entries_dir)}
        popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file,
                                 stderr=subprocess.STDOUT, env=env, cwd=self.log_dir)
        worker = ChaosWorker(number, popen, log_path, log_file)
        self.started.append(worker)
        return worker

    def alive(self) -> list[ChaosWorker]:
        return [w for w in self.started if w.alive()]

    def kill(self, worker: ChaosWorker) -> None:
        worker.popen.send_signal(signal.SIGKILL)
        worker.popen.wait(timeout=30)  # reap it: no zombie, and it is surely gone
        worker.log_file.close()

    def stop_all(self, timeout: float = 30.0) -> list[int | None]:
        """SIGTERM to every live worker (a graceful stop); their exit codes."""
        live = self.alive()
        for w in live:
            w.popen.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for w in live:
            try:
                codes.append(w.popen.wait(timeout=timeout))
            except subprocess.TimeoutExpired:
                codes.append(None)
        return codes

    def kill_all(self) -> None:
        for w in self.started:
            if w.alive():
                with contextlib.suppress(OSError):
                    w.popen.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                w.popen.wait(timeout=30)
            w.log_file.close()

    def log_tails(self, workers: int = 3, lines: int = 30) -> str:
        """The ends of the last few workers' logs (what a failure report shows)."""
        out = []
        for w in self.started[-workers:]:
            try:
                text = w.log_path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                text = ["(no log)"]
            out.append(f"----- worker {w.number} (pid {w.pid}, exit {w.popen.returncode}) -----")
            out.extend(text)
        return "\n".join(out)


def pids_holding_tasks(db: psycopg.Connection[Any]) -> set[int]:
    rows = query(db, "select distinct w.pid from htdag.tasks t"
                      " join htdag.workers w on w.worker_id = t.worker_id"
                      " where t.status = 'started'")
    return {int(r["pid"]) for r in rows}


# --- the chaos phase ----------------------------------------------------------------


def run_chaos(dsn: str, settings: ChaosSettings, work_dir: Path,
              progress: Callable[[str], None] = note) -> ChaosReport:
    """Kills workers at random while runs progress on the migrated database ``dsn``,
    then audits it. Every worker process it starts is gone when it returns."""
    import htdag  # imported here: a caller that only parses --help needs no engine

    rng = random.Random(settings.seed)
    log_dir = work_dir / "logs"
    entries_dir = work_dir / "entries"
    log_dir.mkdir(parents=True, exist_ok=True)
    entries_dir.mkdir(parents=True, exist_ok=True)
    runs: dict[uuid.UUID, StartedRun] = {}
    killed: set[int] = set()  # pids
    exited_on_their_own: list[tuple[int, int | None]] = []  # (pid, exit code)
    kills_holding = 0
    started_at = time.monotonic()
    last_progress = started_at
    last_kill_at = started_at
    progress(f"chaos: seed {settings.seed}, {settings.kills} kills, {settings.workers} workers x "
             f"{settings.concurrency} slots, lease {settings.lease:g}s, a kill every "
             f"{settings.kill_interval_min:g}-{settings.kill_interval_max:g}s, "
             f"{settings.runs_in_flight} runs in flight of 0-{settings.elements_max} elements")

    # One connection for the driver's polling (a new one every 0.1 s would be a
    # load of its own); the audit uses its own connections.
    monitor = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    engine = htdag.connect(dsn)
    workers = ChaosWorkers(dsn, settings, log_dir, entries_dir)

    def status_counts() -> collections.Counter[str]:
        rows = query(monitor, "select status::text as status, count(*) as n from htdag.runs"
                              " group by 1")
        return collections.Counter({r["status"]: int(r["n"]) for r in rows})

    def report_progress(counts: collections.Counter[str]) -> None:
        done = sum(counts.values()) - counts["running"]
        failed = counts["failed"] + counts["cancelled"]
        progress(f"[{time.monotonic() - started_at:6.1f}s] kills {len(killed)}/{settings.kills}, "
                 f"workers alive {len(workers.alive())} ({len(workers.started)} started), "
                 f"runs done {done}/{len(runs)}" + (f", {failed} FAILED" if failed else ""))

    def replace_workers_that_exited() -> None:
        """A worker that exits without being killed is a finding: noted, replaced."""
        for w in workers.started:
            if w.pid not in killed and not w.alive() and w.pid not in dict(exited_on_their_own):
                exited_on_their_own.append((w.pid, w.popen.returncode))
                progress(f"worker {w.number} (pid {w.pid}) exited on its own with "
                         f"{w.popen.returncode}; starting another")
                workers.start()

    counts: collections.Counter[str] = collections.Counter()
    finished_at: float | None = None
    stop_codes: list[int | None] = []
    try:
        for _ in range(settings.workers):
            workers.start()
        next_kill_at = time.monotonic() + rng.uniform(settings.kill_interval_min,
                                                      settings.kill_interval_max)
        while len(killed) < settings.kills:
            counts = status_counts()
            # Keep runs in flight, so that every kill lands while runs progress.
            for _ in range(settings.runs_in_flight - counts["running"]):
                n = 0 if rng.random() < 0.05 else rng.randint(1, settings.elements_max)
                base = len(runs) * 1000
                run = engine.start(chaos_handlers.chaos_flow,
                                   {"base": base, "n": n, "pause_max": settings.pause_max})
                runs[run.run_id] = StartedRun(base, n)
            replace_workers_that_exited()
            now = time.monotonic()
            if now >= next_kill_at:
                live = workers.alive()
                holding = pids_holding_tasks(monitor)
                busy = [w for w in live if w.pid in holding]
                victim = rng.choice(busy or live)
                killed.add(victim.pid)
                workers.kill(victim)
                kills_holding += bool(busy)
                last_kill_at = time.monotonic()
                workers.start()  # the replacement
                next_kill_at = last_kill_at + rng.uniform(settings.kill_interval_min,
                                                          settings.kill_interval_max)
            if now - last_progress >= settings.progress_every:
                report_progress(counts)
                last_progress = now
            time.sleep(0.1)

        progress(f"[{time.monotonic() - started_at:6.1f}s] last kill; no more runs started, "
                 f"waiting for the {len(runs)} runs to finish")
        deadline = last_kill_at + settings.finish_timeout
        while time.monotonic() < deadline:
            counts = status_counts()
            if not counts["running"]:
                finished_at = time.monotonic()
                break
            replace_workers_that_exited()
            if time.monotonic() - last_progress >= settings.progress_every:
                report_progress(counts)
                last_progress = time.monotonic()
            time.sleep(0.05)
        report_progress(counts)
        stop_codes = workers.stop_all()
    finally:
        workers.kill_all()
        engine.close()
        monitor.close()

    report = audit(dsn, runs, entries_dir)
    report.figures = {
        "seed": settings.seed,
        "kills": len(killed),
        "kills_of_workers_holding_tasks": kills_holding,
        "workers_started": len(workers.started),
        "workers_exited_on_their_own": len(exited_on_their_own),
        **report.figures,
        "recovery_after_last_kill_s": (round(finished_at - last_kill_at, 2)
                                       if finished_at is not None else "never"),
        "elapsed_s": round(time.monotonic() - started_at, 1),
    }
    if finished_at is None:
        report.problems.insert(0, f"{counts['running']} runs still running "
                                  f"{settings.finish_timeout:g}s after the last kill")
    if len(killed) != settings.kills:
        report.problems.append(f"only {len(killed)} kills of {settings.kills}")
    if exited_on_their_own:
        report.problems.append(f"workers that exited without being killed (pid, exit code): "
                               f"{exited_on_their_own[:10]}")
    bad_stops = [c for c in stop_codes if c != 0]
    if bad_stops:
        report.problems.append(f"workers that did not stop cleanly on SIGTERM: exit codes "
                               f"{bad_stops} (None: still running after 30s)")
    if report.problems:
        report.problems.append("worker logs (the last few):\n" + workers.log_tails())
    return report


def print_report(report: ChaosReport, out: TextIO = sys.stdout) -> None:
    for line in report.lines():
        print(line, file=out, flush=True)
    print(f"audit: {'passed' if report.passed else 'FAILED'}", file=out, flush=True)
    for p in report.problems:
        print(f"problem: {p}", file=out, flush=True)


def main() -> int:
    defaults = ChaosSettings()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", help="the server (any database on it; default: "
                        "HTDAG_DATABASE_URL, DATABASE_URL, else the embedded default)")
    parser.add_argument("--kills", type=int, default=defaults.kills)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--lease", type=float, default=defaults.lease)
    parser.add_argument("--kill-interval-min", type=float, default=defaults.kill_interval_min)
    parser.add_argument("--kill-interval-max", type=float, default=defaults.kill_interval_max)
    parser.add_argument("--runs-in-flight", type=int, default=defaults.runs_in_flight)
    parser.add_argument("--elements-max", type=int, default=defaults.elements_max)
    parser.add_argument("--pause-max", type=float, default=defaults.pause_max)
    parser.add_argument("--seed", type=int, help="default: random (printed)")
    args = parser.parse_args()
    settings = ChaosSettings(
        kills=args.kills, workers=args.workers, concurrency=args.concurrency, lease=args.lease,
        kill_interval_min=args.kill_interval_min, kill_interval_max=args.kill_interval_max,
        runs_in_flight=args.runs_in_flight, elements_max=args.elements_max,
        pause_max=args.pause_max,
        seed=args.seed if args.seed is not None else random.SystemRandom().randrange(10**9))

    from htdag.core.db import resolve_url

    admin_url = resolve_url(args.url)
    name = f"htdag_chaos_{os.getpid()}"
    work_dir = Path(tempfile.mkdtemp(prefix="htdag-chaos-"))
    note(f"database {name} on {urlsplit(admin_url).hostname or 'a unix socket'}, "
         f"logs in {work_dir}")
    with fresh_database(admin_url, name) as dsn:
        report = run_chaos(dsn, settings, work_dir)
    print_report(report)
    if report.passed:
        shutil.rmtree(work_dir, ignore_errors=True)
    else:
        note(f"worker logs and handler entries kept in {work_dir}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
