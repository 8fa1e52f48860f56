"""procrastinate beside htdag: throughput and dispatch latency of no-op jobs.

Runs with the peers' virtualenv (``make bench-peers`` builds it):

    .venv-peers/bin/python benchmarks/peers/procrastinate_bench.py --url URL

``URL`` names any database on the server (usually ``postgres``); the benchmark
creates its own database ``procrastinate_bench_<pid>``, applies procrastinate's
schema and drops the database at the end. Prints ``name value unit`` lines on
stdout, progress on stderr:

* ``procrastinate_jobs_total`` / ``procrastinate_throughput_jobs_per_s``: the
  jobs (20,000 no-op jobs by default) are deferred first; then a worker with
  ``concurrency`` slots (10) runs in this process with ``wait=False`` and is
  timed from its start until it returns, having caught up with the queue.
  htdag's figure is timed the same way, from the worker being up to the last run
  completed.
* ``procrastinate_dispatch_latency_p50_ms`` / ``_p99_ms``: with an idle worker in
  another process (this script with ``--worker``), from just before
  ``defer_async`` to the job's function starting (it prints ``time.time()``);
  sequential samples with a short pause between them, after a warm-up, on
  vacuumed tables, as htdag's dispatch latency is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time

import psycopg
from _common import figure, fresh_database, note, quantile, vacuum
from procrastinate import App, PsycopgConnector

DEFAULT_JOBS = 20_000
DEFAULT_CONCURRENCY = 10
DEFER_BATCH = 1_000
LATENCY_SAMPLES = 200
LATENCY_WARMUP = 20
LATENCY_PAUSE = 0.01
# The first warm-up job waits for the worker process to start and listen.
FIRST_JOB_TIMEOUT = 60.0
JOB_TIMEOUT = 30.0


def make_app(url: str) -> App:
    """An app with the benchmark's two tasks; the worker process builds the same."""
    app = App(connector=PsycopgConnector(conninfo=url))

    @app.task(name="noop")
    async def noop() -> None:
        return None

    @app.task(name="stamp")
    async def stamp(sample: int) -> None:
        # The time comes back on the worker's stdout, outside what is measured.
        print(sample, time.time(), flush=True)

    return app


# --- throughput ------------------------------------------------------------------------


async def defer_noops(app: App, jobs: int) -> None:
    started = time.perf_counter()
    noop = app.tasks["noop"]
    for first in range(0, jobs, DEFER_BATCH):
        await noop.batch_defer_async(*({} for _ in range(min(DEFER_BATCH, jobs - first))))
    elapsed = time.perf_counter() - started
    note(f"procrastinate: deferred {jobs} jobs in {elapsed:.2f}s "
         f"(batches of {DEFER_BATCH}; not timed)")


async def succeeded_jobs(url: str, task_name: str) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "select count(*) from procrastinate_jobs where task_name = %s"
            " and status = 'succeeded'", (task_name,))
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def throughput(app: App, url: str, jobs: int, concurrency: int) -> float:
    await defer_noops(app, jobs)
    started = time.perf_counter()
    await app.run_worker_async(concurrency=concurrency, wait=False,
                               install_signal_handlers=False)
    seconds = time.perf_counter() - started
    done = await succeeded_jobs(url, "noop")
    if done != jobs:
        raise RuntimeError(f"{done} of {jobs} jobs succeeded")
    rate = jobs / seconds
    note(f"procrastinate: {jobs} jobs in {seconds:.2f}s = {rate:.0f} jobs/s "
         f"with concurrency {concurrency}")
    return rate


# --- dispatch latency ----------------------------------------------------------------------


class WorkerProcess:
    """This script with ``--worker URL``: an idle worker that prints each stamp."""

    def __init__(self, url: str, concurrency: int) -> None:
        self.url = url
        self.concurrency = concurrency
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--worker", self.url,
            "--concurrency", str(self.concurrency),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=None)

    async def stamp_of(self, sample: int, timeout: float) -> float:
        """The time at which job ``sample`` started, read from the worker's stdout."""
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.perf_counter() + timeout
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(),
                                          max(0.0, deadline - time.perf_counter()))
            if not line:
                raise RuntimeError(f"the worker exited (code {await self.proc.wait()})")
            got, started = line.decode().split()
            if int(got) == sample:
                return float(started)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # procrastinate stops gracefully on it
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            note(f"procrastinate worker {self.proc.pid} did not stop in 30s; killing it")
            self.proc.kill()
            await self.proc.wait()


async def dispatch_latencies(app: App, worker: WorkerProcess, first: int,
                             samples: int) -> list[float]:
    stamp = app.tasks["stamp"]
    found = []
    for sample in range(first, first + samples):
        t0 = time.time()
        await stamp.defer_async(sample=sample)
        timeout = FIRST_JOB_TIMEOUT if sample == 0 else JOB_TIMEOUT
        found.append((await worker.stamp_of(sample, timeout) - t0) * 1000)
        await asyncio.sleep(LATENCY_PAUSE)
    return found


async def latency(app: App, url: str, concurrency: int, samples: int) -> list[float]:
    vacuum(url, ["procrastinate_jobs", "procrastinate_events", "procrastinate_workers"])
    worker = WorkerProcess(url, concurrency)
    await worker.start()
    try:
        await dispatch_latencies(app, worker, 0, LATENCY_WARMUP)
        lat = await dispatch_latencies(app, worker, LATENCY_WARMUP, samples)
    finally:
        await worker.stop()
    note(f"procrastinate: dispatch latency over {len(lat)} samples: min {min(lat):.2f} "
         f"p50 {quantile(lat, 0.5):.2f} p90 {quantile(lat, 0.9):.2f} "
         f"p99 {quantile(lat, 0.99):.2f} max {max(lat):.2f} ms")
    return lat


# --- main ---------------------------------------------------------------------------------


async def bench(url: str, jobs: int, concurrency: int, samples: int) -> None:
    app = make_app(url)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        rate = await throughput(app, url, jobs, concurrency)
        lat = await latency(app, url, concurrency, samples)
    figure("procrastinate_jobs_total", jobs, "jobs")
    figure("procrastinate_worker_concurrency", concurrency, "slots")
    figure("procrastinate_throughput_jobs_per_s", rate, "jobs/s")
    figure("procrastinate_dispatch_latency_p50_ms", quantile(lat, 0.5), "ms")
    figure("procrastinate_dispatch_latency_p99_ms", quantile(lat, 0.99), "ms")


async def run_worker(url: str, concurrency: int) -> None:
    app = make_app(url)
    async with app.open_async():
        await app.run_worker_async(concurrency=concurrency, wait=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="any database on the server to use")
    parser.add_argument("--worker", metavar="URL",
                        help="run an idle worker on this database (used by the benchmark)")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--samples", type=int, default=LATENCY_SAMPLES)
    args = parser.parse_args()
    # procrastinate logs each job at INFO; warnings and errors are worth seeing.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # It warns of an App built in the __main__ module because tasks named after
    # "__main__" would not be found by a worker importing the module; every task
    # here has an explicit name, and the worker is this same script.
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)
    if args.worker:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_worker(args.worker, args.concurrency))
        return 0
    if not args.url:
        parser.error("--url is required")
    started = time.perf_counter()
    with fresh_database(args.url, f"procrastinate_bench_{os.getpid()}") as url:
        asyncio.run(bench(url, args.jobs, args.concurrency, args.samples))
    note(f"procrastinate benchmark took {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
