"""htdag benchmarks: prints one ``name value unit`` line per figure on stdout.

Progress and notes go to stderr. Nothing is asserted: these are figures to
watch, not tests.

    .venv/bin/python benchmarks/run_all.py                 # fresh embedded server
    .venv/bin/python benchmarks/run_all.py --url URL       # another server
    HTDAG_BENCH_URL=URL .venv/bin/python benchmarks/run_all.py

With no URL a fresh embedded PostgreSQL is initialised in a short temporary
directory under /tmp and stopped and removed at the end. With a URL (of any
database on the server, usually ``postgres``) the benchmarks create and drop
their own databases ``htdag_bench_<pid>`` and ``htdag_bench_<pid>_pgbench``.

Figures:

* ``throughput_tasks_per_s``: 200 runs of a flow whose map step has 100 no-op
  tasks (``tasks_total``) are started first; then one worker process is started
  with the CLI (``worker_concurrency`` slots) and timed from when it is up
  (connected, migrations checked) until the last run completed. The process
  start-up is reported on stderr. The pass is repeated with task-level events on
  (the default) and off (``aset_task_events(engine, False)``), alternating on,
  off, off, on (``EVENTS_ROUNDS`` times) so that drift (the tables grow with every
  pass) falls on both alike: ``throughput_tasks_per_s`` is the median of the "on"
  passes, ``throughput_tasks_per_s_events_off`` that of the "off" ones and
  ``throughput_ratio_events_on_vs_off`` the one over the other. Every pass is
  listed on stderr.
* ``pgbench_simple_update_tps``: ``pgbench -N -c 4 -T 10`` (scale 10, its own
  database) against the same server; ``throughput_ratio_vs_pgbench`` is the
  throughput over it.
* ``dispatch_latency_p50_ms`` / ``_p99_ms``: from just before ``engine.start``
  to the handler starting (it returns ``time.time()``), with an idle worker in
  another process; sequential samples with a short pause between them. Before
  the latency and chain figures the htdag tables are vacuumed (as pgbench does
  before it runs): the throughput passes leave their dead rows behind.
* ``event_latency_p50_ms`` / ``_p99_ms``: from a task's completion committing to a
  listener in another process (``benchmarks/event_listener.py``, running
  ``alisten``) receiving its ``task.completed`` event, with the same idle worker;
  sequential one-step runs with a short pause between them. The commit time is
  the event's ``created_at`` (``clock_timestamp()`` in the completing transaction,
  shortly before it commits: the rest of that transaction and its WAL flush are
  counted too); the receive time is the listener's ``time.time()``.
* ``chain_step_overhead_ms``: wall time of a 100-step chain of no-op steps over
  100 (median of a few runs, worker already warm).
* ``commit_latency_ms``: median of a durable one-row ``UPDATE`` in autocommit from
  this process, right after the chains: the floor of a step that must commit
  before the next starts (a round trip and a WAL flush) on this machine at this
  moment. ``chain_step_vs_commit_ratio`` is the chain step over it: how many such
  commits a chain step costs, a figure that moves less with the machine's disk
  and load than the two it divides.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
HANDLERS_FILE = HERE / "handlers.py"
sys.path.insert(0, str(HERE))

import handlers as bench  # noqa: E402  (the flows; the worker loads the same file)
import llm_repair as llm_repair_bench  # noqa: E402  (the LLM decomposer's fault set)
import optimizer as optimizer_bench  # noqa: E402  (learned vs static step options; its docstring)
import plan_cache as plan_cache_bench  # noqa: E402  (hit rates, lookup latency; its docstring)
import planning as planning_bench  # noqa: E402  (makespan vs critical path; see its docstring)
from _databases import create_database, drop_database, with_database  # noqa: E402
from _stats import quantile  # noqa: E402  (bench_peers.py imports it from here)

from htdag.core.engine import AsyncEngine  # noqa: E402
from htdag.notifications import aset_task_events  # noqa: E402

# The measured pass.
THROUGHPUT_RUNS = 200
WARMUP_RUNS = 20
LATENCY_SAMPLES = 200
LATENCY_WARMUP = 20
LATENCY_PAUSE = 0.01
CHAIN_REPEATS = 7
DEFAULT_CONCURRENCY = 200
PGBENCH_SCALE = 10
PGBENCH_CLIENTS = 4
PGBENCH_SECONDS = 10
EVENTS_ROUNDS = 4  # on/off throughput passes: on, off, off, on, per round
EVENT_LATENCY_SAMPLES = 200
EVENT_LATENCY_WARMUP = 20
LISTENER_FILE = HERE / "event_listener.py"


def note(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


def load_note(when: str) -> None:
    """The machine's load: figures taken on a busy machine are worth less."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return
    note(f"load average {when}: {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs")


def figure(name: str, value: float | int, unit: str) -> None:
    text = str(value) if isinstance(value, int) else f"{value:.3f}".rstrip("0").rstrip(".")
    print(f"{name} {text} {unit}", flush=True)


# --- databases -----------------------------------------------------------------


@contextlib.contextmanager
def server(url: str | None) -> Iterator[tuple[str, str]]:
    """Yields (admin URL, description): the given server, or a fresh embedded one."""
    if url:
        yield url, "given server"
        return
    from htdag.core import embedded

    # Short: the server's unix socket may live in it (sun_path is ~107 bytes).
    root = Path(tempfile.mkdtemp(prefix="htb", dir="/tmp"))
    pgdata = root / "pg"
    note(f"starting a fresh embedded PostgreSQL in {pgdata}")
    try:
        started = time.perf_counter()
        admin = embedded.ensure_server(pgdata)
        note(f"  ready in {time.perf_counter() - started:.1f}s: {admin}")
        yield admin, "embedded"
    finally:
        with contextlib.suppress(Exception):
            embedded.stop_server(pgdata)
        shutil.rmtree(root, ignore_errors=True)


def server_version(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("show server_version").fetchone()
        settings = conn.execute(
            "select string_agg(name || '=' || setting, ' ' order by name) from pg_settings"
            " where name in ('synchronous_commit', 'fsync', 'shared_buffers', 'jit',"
            " 'max_connections', 'wal_level')").fetchone()
    return f"PostgreSQL {row[0] if row else '?'} ({settings[0] if settings else ''})"


# --- the worker process ------------------------------------------------------------


class WorkerProcess:
    """``htdag --url URL worker benchmarks/handlers.py --concurrency N`` as a subprocess."""

    def __init__(self, url: str, concurrency: int) -> None:
        self.url = url
        self.concurrency = concurrency
        self.proc: asyncio.subprocess.Process | None = None
        self.spawned_at = 0.0
        self.ready_at = 0.0
        self._drain: asyncio.Task[None] | None = None

    async def start(self) -> None:
        cmd = [sys.executable, "-m", "htdag.cli", "--url", self.url, "worker",
               str(HANDLERS_FILE), "--concurrency", str(self.concurrency)]
        self.spawned_at = time.perf_counter()
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=None)
        assert self.proc.stdout is not None
        # The CLI prints one line once it is connected and about to run.
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        self.ready_at = time.perf_counter()
        if not line:
            raise RuntimeError(f"the worker exited at start (code {await self.proc.wait()})")
        self._drain = asyncio.create_task(self._drain_stdout())

    async def _drain_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while await self.proc.stdout.readline():
            pass

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                note(f"worker {self.proc.pid} did not stop in 30s; killing it")
                self.proc.kill()
                await self.proc.wait()
        if self._drain is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain, 5)


# --- waiting for runs -----------------------------------------------------------------


async def wait_runs(listen: psycopg.AsyncConnection[Any], check_url: str,
                    run_ids: list[uuid.UUID], worker: WorkerProcess, timeout: float) -> float:
    """Waits until every run completed (NOTIFY htdag_run, with a polled fallback);
    returns the perf_counter time at which the last one was seen completed."""
    pending = {str(r) for r in run_ids}
    deadline = time.perf_counter() + timeout
    finished_at = time.perf_counter()
    while pending:
        async for n in listen.notifies(timeout=1.0):
            run_id, _, kind = n.payload.partition(":")
            if run_id in pending:
                if kind != "completed":
                    raise RuntimeError(f"run {run_id} ended {kind}")
                pending.discard(run_id)
                finished_at = time.perf_counter()
                if not pending:
                    return finished_at
        # A second without news: check the table (a lost notification) and the worker.
        async with await psycopg.AsyncConnection.connect(check_url, autocommit=True) as conn:
            cur = await conn.execute(
                "select run_id::text, status::text from htdag.runs where run_id = any(%s)",
                ([uuid.UUID(r) for r in pending],))
            for run_id, status in await cur.fetchall():
                if status == "completed":
                    pending.discard(run_id)
                    finished_at = time.perf_counter()
                elif status != "running":
                    raise RuntimeError(f"run {run_id} ended {status}")
        if pending and not worker.alive():
            raise RuntimeError("the worker process died")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{len(pending)} runs not done after {timeout:.0f}s")
    return finished_at


async def throughput_pass(engine: AsyncEngine, url: str, runs: int, concurrency: int,
                          label: str) -> tuple[float, int, WorkerProcess]:
    """Starts ``runs`` fan-out runs, then a worker; returns (tasks/s, tasks, the worker,
    still running)."""
    items = list(range(bench.MAP_SIZE))
    started = time.perf_counter()
    run_ids = [(await engine.start(bench.fanout, items)).run_id for _ in range(runs)]
    elapsed = time.perf_counter() - started
    note(f"{label}: started {runs} runs ({runs * bench.MAP_SIZE} tasks) in {elapsed:.2f}s "
         f"({runs / elapsed:.0f} runs/s, {runs * bench.MAP_SIZE / elapsed:.0f} tasks/s queued)")
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as listen:
        await listen.execute("listen htdag_run")
        worker = WorkerProcess(url, concurrency)
        await worker.start()
        try:
            done_at = await wait_runs(listen, url, run_ids, worker, timeout=300)
        except BaseException:
            await worker.stop()
            raise
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "select count(*) from htdag.tasks where run_id = any(%s) and status = 'completed'",
            (run_ids,))
        row = await cur.fetchone()
        tasks = int(row[0]) if row else 0
    seconds = done_at - worker.ready_at
    rate = tasks / seconds
    note(f"{label}: {tasks} tasks in {seconds:.2f}s = {rate:.0f} tasks/s with {concurrency} "
         f"slots (worker process start-up {worker.ready_at - worker.spawned_at:.2f}s not "
         f"counted; with it {tasks / (done_at - worker.spawned_at):.0f} tasks/s)")
    return rate, tasks, worker


async def throughput_passes(engine: AsyncEngine, url: str, runs: int, concurrency: int
                            ) -> tuple[list[float], list[float], int, WorkerProcess]:
    """Throughput passes with task events on and off, in the order on, off, off, on
    (``EVENTS_ROUNDS`` times); returns (rates on, rates off, tasks per pass, the last
    pass's worker, still running). Events are on again at the end."""
    order = [True, False, False, True] * EVENTS_ROUNDS
    rates: dict[bool, list[float]] = {True: [], False: []}
    tasks = 0
    worker: WorkerProcess | None = None
    try:
        for n, events_on in enumerate(order, 1):
            if worker is not None:
                await worker.stop()
                worker = None
            await aset_task_events(engine, events_on)
            label = f"throughput {n}/{len(order)} (task events {'on' if events_on else 'off'})"
            rate, passed, worker = await throughput_pass(engine, url, runs, concurrency, label)
            rates[events_on].append(rate)
            tasks = tasks or passed
            if passed != tasks:
                raise RuntimeError(f"{label}: {passed} tasks, not {tasks}")
    except BaseException:
        if worker is not None:
            await worker.stop()
        raise
    finally:
        await aset_task_events(engine, True)
    assert worker is not None
    return rates[True], rates[False], tasks, worker


# --- dispatch latency and chain ------------------------------------------------------------


async def dispatch_latencies(engine: AsyncEngine, samples: int) -> list[float]:
    found = []
    for _ in range(samples):
        t0 = time.time()
        run = await engine.start(bench.latency, None)
        output = await run.wait(timeout=30)
        found.append((output["stamp"] - t0) * 1000)
        await asyncio.sleep(LATENCY_PAUSE)
    return found


class EventListenerProcess:
    """``benchmarks/event_listener.py URL``: prints (run id, created_at, received)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(LISTENER_FILE), self.url,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None)
        line = await self.readline(60)
        if line != "ready":
            raise RuntimeError(f"the event listener did not start: {line!r}")

    async def readline(self, timeout: float) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"the event listener exited (code {await self.proc.wait()})")
        return line.decode().strip()

    async def received(self, run_id: uuid.UUID, timeout: float) -> tuple[float, float]:
        """(created_at, received) of the run's task.completed event."""
        deadline = time.perf_counter() + timeout
        while True:
            got, created, received = (await self.readline(
                max(0.0, deadline - time.perf_counter()))).split()
            if got == str(run_id):
                return float(created), float(received)

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # it exits when its stdin closes
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                note(f"event listener {self.proc.pid} did not stop in 10s; killing it")
                self.proc.kill()
                await self.proc.wait()


async def event_latencies(engine: AsyncEngine, listener: EventListenerProcess,
                          samples: int) -> list[float]:
    found = []
    for _ in range(samples):
        run = await engine.start(bench.latency, None)
        created, received = await listener.received(run.run_id, 30)
        found.append((received - created) * 1000)
        await run.wait(timeout=30)
        await asyncio.sleep(LATENCY_PAUSE)
    return found


async def vacuum_tables(url: str) -> None:
    started = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("vacuum (analyze) htdag.tasks, htdag.step_states, htdag.runs,"
                           " htdag.attempts, htdag.events, htdag.workers")
    note(f"vacuum (analyze) of the htdag tables: {time.perf_counter() - started:.1f}s")


async def commit_latencies(url: str, samples: int) -> list[float]:
    """Milliseconds per durable one-row update in autocommit from this process: the
    floor of any step that must commit before the next one starts (a round trip
    and a WAL flush), measured on the same server right after the chains."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("create table bench_commit (id int primary key, n bigint not null)")
        await conn.execute("insert into bench_commit values (1, 0)")
        took = []
        for _ in range(samples + LATENCY_WARMUP):
            started = time.perf_counter()
            await conn.execute("update bench_commit set n = n + 1 where id = 1")
            took.append((time.perf_counter() - started) * 1000)
        await conn.execute("drop table bench_commit")
    return took[LATENCY_WARMUP:]


async def chain_seconds(engine: AsyncEngine) -> float:
    started = time.perf_counter()
    await engine.run(bench.chain, None, timeout=120)
    return time.perf_counter() - started


# --- pgbench ------------------------------------------------------------------------------


def pgbench_tps(admin_url: str, dbname: str) -> float:
    from htdag.core.embedded import pg_bin

    exe = str(pg_bin("pgbench"))
    url = with_database(admin_url, dbname)
    create_database(admin_url, dbname)
    started = time.perf_counter()
    init = subprocess.run([exe, "-i", "-q", "-s", str(PGBENCH_SCALE), url],
                          capture_output=True, text=True, check=False)
    if init.returncode != 0:
        raise RuntimeError(f"pgbench -i failed:\n{init.stderr}")
    note(f"pgbench: initialised scale {PGBENCH_SCALE} in {time.perf_counter() - started:.1f}s; "
         f"running -N -c {PGBENCH_CLIENTS} -T {PGBENCH_SECONDS}")
    result = subprocess.run(
        [exe, "-N", "-c", str(PGBENCH_CLIENTS), "-T", str(PGBENCH_SECONDS), url],
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{result.stderr}\n{result.stdout}")
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", result.stdout)
    if match is None:
        raise RuntimeError(f"no tps in pgbench's output:\n{result.stdout}")
    lat = re.search(r"latency average = ([0-9.]+) ms", result.stdout)
    note(f"pgbench: {match[1]} tps, latency average {lat[1] if lat else '?'} ms")
    return float(match[1])


# --- main -----------------------------------------------------------------------------


async def bench_database(url: str, admin_url: str, concurrency: int, runs: int) -> None:
    engine = await AsyncEngine.connect(url)
    worker: WorkerProcess | None = None
    try:
        for flow in (bench.fanout, bench.latency, bench.chain):
            await engine.store_flow(flow)

        note(f"worker concurrency: {concurrency} slots (one worker process)")
        load_note("before measuring")
        _, _, warm = await throughput_pass(engine, url, WARMUP_RUNS, concurrency, "warm-up")
        await warm.stop()

        on, off, tasks, worker = await throughput_passes(engine, url, runs, concurrency)
        rate, rate_off = statistics.median(on), statistics.median(off)
        note(f"throughput passes alternated on/off {EVENTS_ROUNDS} times (on, off, off, on): "
             f"task events on {', '.join(f'{r:.0f}' for r in on)}, off "
             f"{', '.join(f'{r:.0f}' for r in off)} tasks/s; medians {rate:.0f} on and "
             f"{rate_off:.0f} off: ratio {rate / rate_off:.3f}")

        # The same worker, now idle and warm, serves the latency and chain figures,
        # on vacuumed tables, as pgbench vacuums before it runs: the passes above
        # leave hundreds of thousands of dead rows that autovacuum would clear
        # shortly, and that are not what a one-step run's dispatch costs.
        await vacuum_tables(url)
        await dispatch_latencies(engine, LATENCY_WARMUP)
        lat = await dispatch_latencies(engine, LATENCY_SAMPLES)
        p50, p99 = quantile(lat, 0.5), quantile(lat, 0.99)
        note(f"dispatch latency over {len(lat)} samples: min {min(lat):.2f} p50 {p50:.2f} "
             f"p90 {quantile(lat, 0.9):.2f} p99 {p99:.2f} max {max(lat):.2f} ms")

        listener = EventListenerProcess(url)
        await listener.start()
        try:
            await event_latencies(engine, listener, EVENT_LATENCY_WARMUP)
            ev = await event_latencies(engine, listener, EVENT_LATENCY_SAMPLES)
        finally:
            await listener.stop()
        ev_p50, ev_p99 = quantile(ev, 0.5), quantile(ev, 0.99)
        note(f"event latency over {len(ev)} samples (from the task.completed event's "
             f"created_at, taken in the completing transaction shortly before it commits, "
             f"as the commit time: the rest of that transaction and its WAL flush count "
             f"too; to its receipt by alisten in another process): min {min(ev):.2f} "
             f"p50 {ev_p50:.2f} "
             f"p90 {quantile(ev, 0.9):.2f} p99 {ev_p99:.2f} max {max(ev):.2f} ms")

        await chain_seconds(engine)  # warm-up
        chains = [await chain_seconds(engine) for _ in range(CHAIN_REPEATS)]
        note(f"chain of {bench.CHAIN_LENGTH} steps: {', '.join(f'{c:.3f}' for c in chains)} s")
        commits = await commit_latencies(url, LATENCY_SAMPLES)
        note(f"durable one-row update (autocommit) over {len(commits)} samples: "
             f"min {min(commits):.2f} p50 {quantile(commits, 0.5):.2f} "
             f"p90 {quantile(commits, 0.9):.2f} ms")
        await worker.stop()
        worker = None
        load_note("after measuring")
    finally:
        if worker is not None:
            await worker.stop()
        await engine.close()

    # With the worker stopped, so that it does not compete with pgbench.
    tps = pgbench_tps(admin_url, f"htdag_bench_{os.getpid()}_pgbench")

    figure("tasks_total", tasks, "tasks")
    figure("worker_concurrency", concurrency, "slots")
    figure("throughput_tasks_per_s", rate, "tasks/s")
    figure("throughput_tasks_per_s_events_off", rate_off, "tasks/s")
    figure("throughput_ratio_events_on_vs_off", rate / rate_off, "ratio")
    figure("pgbench_simple_update_tps", tps, "tps")
    figure("throughput_ratio_vs_pgbench", rate / tps, "ratio")
    figure("dispatch_latency_p50_ms", p50, "ms")
    figure("dispatch_latency_p99_ms", p99, "ms")
    figure("event_latency_p50_ms", ev_p50, "ms")
    figure("event_latency_p99_ms", ev_p99, "ms")
    chain_step = statistics.median(chains) * 1000 / bench.CHAIN_LENGTH
    figure("chain_step_overhead_ms", chain_step, "ms")
    figure("commit_latency_ms", quantile(commits, 0.5), "ms")
    figure("chain_step_vs_commit_ratio", chain_step / quantile(commits, 0.5), "ratio")


def standalone(bench: Callable[[str], None], doc: str | None) -> int:
    """A benchmark module run on its own: ``--url`` (default HTDAG_BENCH_URL, else a
    fresh embedded server), then ``bench(admin_url)``."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("HTDAG_BENCH_URL"),
                        help="a server (default: HTDAG_BENCH_URL, else a fresh embedded one)")
    args = parser.parse_args()
    with server(args.url) as (admin_url, kind):
        note(f"server: {kind}, {server_version(admin_url)}")
        bench(admin_url)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("HTDAG_BENCH_URL"),
                        help="a server to use (default: HTDAG_BENCH_URL, else a fresh "
                             "embedded PostgreSQL)")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help=f"worker slots (default {DEFAULT_CONCURRENCY})")
    parser.add_argument("--runs", type=int, default=THROUGHPUT_RUNS,
                        help=f"throughput runs of {bench.MAP_SIZE} tasks "
                             f"(default {THROUGHPUT_RUNS})")
    args = parser.parse_args()
    started = time.perf_counter()
    with server(args.url) as (admin_url, kind):
        note(f"server: {kind}, {server_version(admin_url)}")
        name = f"htdag_bench_{os.getpid()}"
        url = with_database(admin_url, name)
        create_database(admin_url, name)
        try:
            asyncio.run(bench_database(url, admin_url, args.concurrency, args.runs))
            planning_bench.bench(admin_url)  # its own database on the same server
            plan_cache_bench.bench(admin_url)  # its own databases, likewise
            optimizer_bench.bench(admin_url)  # its own database, likewise
            llm_repair_bench.bench()  # a local model server, no database
        finally:
            drop_database(admin_url, name)
            drop_database(admin_url, f"{name}_pgbench")
    note(f"benchmarks took {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
