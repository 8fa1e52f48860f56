"""htdag beside procrastinate and LangGraph, on one server in one run.

    make bench-peers                                    # builds .venv-peers first
    .venv/bin/python benchmarks/bench_peers.py          # fresh embedded server
    .venv/bin/python benchmarks/bench_peers.py --url URL
    HTDAG_BENCH_URL=URL .venv/bin/python benchmarks/bench_peers.py

The peers run from their own virtualenv (``.venv-peers``, or ``--peers-python``),
as subprocesses: ``benchmarks/peers/procrastinate_bench.py`` and
``benchmarks/peers/langgraph_bench.py`` (their docstrings say what they time).
Every part uses a fresh database of its own on the same server, dropped at the
end. With no URL a fresh embedded PostgreSQL is started and removed at the end,
as ``benchmarks/run_all.py`` does. Progress goes to stderr; stdout has one
``name value unit`` line per figure: htdag's, the peers', then the ratios.

htdag's figures, measured as ``run_all.py`` measures them (its functions) but on
the peers' workloads, with one worker process of ``--concurrency`` slots (10):

* ``htdag_throughput_tasks_per_s``: 200 runs of a 100-task no-op map step
  (20,000 tasks, as procrastinate's 20,000 jobs) started first, then the worker
  timed from when it is up until the last run completed; median of 3 passes
  after a warm-up pass.
* ``htdag_dispatch_latency_p50_ms`` / ``_p99_ms``: start of a one-step run to its
  handler starting, the worker idle; on vacuumed tables.
* ``htdag_chain_step_overhead_ms``: a 100-step no-op chain's wall time over 100,
  median of 7.
* ``htdag_fanout_tasks_per_s``: one run whose map step has 1,000 no-op tasks,
  from ``start`` to the run completed, the worker warm and idle; 1,000 over the
  median of 5 runs.

Ratios (above 1 means htdag is ahead):

* ``throughput_ratio_vs_procrastinate``: htdag's tasks/s over procrastinate's jobs/s.
* ``dispatch_p50_ratio_vs_procrastinate``: procrastinate's dispatch p50 over htdag's.
* ``chain_step_ratio_vs_langgraph``: LangGraph's ms per chain step over htdag's.
* ``fanout_ratio_vs_langgraph``: htdag's fan-out tasks/s over LangGraph's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import handlers as bench  # noqa: E402  (the flows; the worker loads the same file)
import run_all  # noqa: E402  (htdag's own benchmark: its server, worker and timings)
from run_all import figure, note, quantile  # noqa: E402

from htdag.core.engine import AsyncEngine  # noqa: E402

PEERS_DIR = HERE / "peers"
DEFAULT_PEERS_PYTHON = HERE.parent / ".venv-peers" / "bin" / "python"
DEFAULT_CONCURRENCY = 10
THROUGHPUT_PASSES = 3
FANOUT_SIZE = 1_000
FANOUT_REPEATS = 5
PEER_TIMEOUT = 900.0


# --- htdag ---------------------------------------------------------------------------------


async def fanout_seconds(engine: AsyncEngine, size: int) -> float:
    """Wall time of one run whose map step has ``size`` no-op tasks, start to output."""
    started = time.perf_counter()
    output = await engine.run(bench.fanout, list(range(size)), timeout=120)
    seconds = time.perf_counter() - started
    if len(output["noop"]) != size:
        raise RuntimeError(f"the fan-out returned {len(output['noop'])} outputs, not {size}")
    return seconds


async def htdag_figures(url: str, concurrency: int, runs: int) -> dict[str, float | int]:
    engine = await AsyncEngine.connect(url)
    worker: run_all.WorkerProcess | None = None
    try:
        for flow in (bench.fanout, bench.latency, bench.chain):
            await engine.store_flow(flow)
        note(f"htdag: worker concurrency {concurrency} slots (one worker process)")
        _, _, warm = await run_all.throughput_pass(
            engine, url, run_all.WARMUP_RUNS, concurrency, "htdag warm-up")
        await warm.stop()
        rates = []
        for n in range(1, THROUGHPUT_PASSES + 1):
            if worker is not None:
                await worker.stop()
            rate, tasks, worker = await run_all.throughput_pass(
                engine, url, runs, concurrency, f"htdag throughput {n}/{THROUGHPUT_PASSES}")
            rates.append(rate)
        assert worker is not None

        # The last pass's worker, now idle and warm, serves the other figures.
        await run_all.vacuum_tables(url)
        await run_all.dispatch_latencies(engine, run_all.LATENCY_WARMUP)
        lat = await run_all.dispatch_latencies(engine, run_all.LATENCY_SAMPLES)
        note(f"htdag: dispatch latency over {len(lat)} samples: min {min(lat):.2f} "
             f"p50 {quantile(lat, 0.5):.2f} p90 {quantile(lat, 0.9):.2f} "
             f"p99 {quantile(lat, 0.99):.2f} max {max(lat):.2f} ms")

        await run_all.chain_seconds(engine)  # warm-up
        chains = [await run_all.chain_seconds(engine) for _ in range(run_all.CHAIN_REPEATS)]
        note(f"htdag: chain of {bench.CHAIN_LENGTH} steps: "
             f"{', '.join(f'{c:.3f}' for c in chains)} s")

        await fanout_seconds(engine, FANOUT_SIZE)  # warm-up
        fanouts = [await fanout_seconds(engine, FANOUT_SIZE) for _ in range(FANOUT_REPEATS)]
        note(f"htdag: fan-out of {FANOUT_SIZE} map tasks: "
             f"{', '.join(f'{s:.3f}' for s in fanouts)} s")
    finally:
        if worker is not None:
            await worker.stop()
        await engine.close()
    return {
        "htdag_tasks_total": tasks,
        "htdag_worker_concurrency": concurrency,
        "htdag_throughput_tasks_per_s": statistics.median(rates),
        "htdag_dispatch_latency_p50_ms": quantile(lat, 0.5),
        "htdag_dispatch_latency_p99_ms": quantile(lat, 0.99),
        "htdag_chain_step_overhead_ms": statistics.median(chains) * 1000 / bench.CHAIN_LENGTH,
        "htdag_fanout_tasks": FANOUT_SIZE,
        "htdag_fanout_tasks_per_s": FANOUT_SIZE / statistics.median(fanouts),
    }


UNITS = {
    "htdag_tasks_total": "tasks",
    "htdag_worker_concurrency": "slots",
    "htdag_throughput_tasks_per_s": "tasks/s",
    "htdag_dispatch_latency_p50_ms": "ms",
    "htdag_dispatch_latency_p99_ms": "ms",
    "htdag_chain_step_overhead_ms": "ms",
    "htdag_fanout_tasks": "tasks",
    "htdag_fanout_tasks_per_s": "tasks/s",
}


# --- the peers -----------------------------------------------------------------------------


def peer_figures(python: Path, script: str, admin_url: str
                 ) -> list[tuple[str, float | int, str]]:
    """Runs a peer benchmark with the peers' python; returns its (name, value, unit)
    lines. Its stderr (progress) passes through."""
    # Each part's load is worth seeing: a busy machine slows one side, not the other.
    run_all.load_note(f"before {script}")
    note(f"running {script} with {python}")
    result = subprocess.run([str(python), str(PEERS_DIR / script), "--url", admin_url],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=None,
                            text=True, timeout=PEER_TIMEOUT, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{script} exited with code {result.returncode}:\n{result.stdout}")
    found: list[tuple[str, float | int, str]] = []
    for line in result.stdout.splitlines():
        name, value, unit = line.split()
        found.append((name, int(value) if value.isdigit() else float(value), unit))
    return found


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("HTDAG_BENCH_URL"),
                        help="a server to use (default: HTDAG_BENCH_URL, else a fresh "
                             "embedded PostgreSQL)")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help=f"htdag worker slots (default {DEFAULT_CONCURRENCY}, as "
                             f"procrastinate's)")
    parser.add_argument("--runs", type=int, default=run_all.THROUGHPUT_RUNS,
                        help=f"htdag throughput runs of {bench.MAP_SIZE} tasks "
                             f"(default {run_all.THROUGHPUT_RUNS})")
    parser.add_argument("--peers-python", type=Path, default=DEFAULT_PEERS_PYTHON,
                        help="the python of the peers' virtualenv (default .venv-peers; "
                             "`make bench-peers` builds it)")
    args = parser.parse_args()
    if not args.peers_python.exists():
        parser.error(f"{args.peers_python} is missing: `make bench-peers` builds it")

    started = time.perf_counter()
    with run_all.server(args.url) as (admin_url, kind):
        note(f"server: {kind}, {run_all.server_version(admin_url)}")
        run_all.load_note("before measuring")
        name = f"htdag_peers_{os.getpid()}"
        run_all.create_database(admin_url, name)
        try:
            ours = asyncio.run(htdag_figures(run_all.with_database(admin_url, name),
                                             args.concurrency, args.runs))
        finally:
            run_all.drop_database(admin_url, name)
        procrastinate = peer_figures(args.peers_python, "procrastinate_bench.py", admin_url)
        langgraph = peer_figures(args.peers_python, "langgraph_bench.py", admin_url)
        run_all.load_note("after measuring")

    for key, value in ours.items():
        figure(key, value, UNITS[key])
    theirs: dict[str, float | int] = {}
    for peer_name, value, unit in procrastinate + langgraph:
        figure(peer_name, value, unit)
        theirs[peer_name] = value
    figure("throughput_ratio_vs_procrastinate",
           ours["htdag_throughput_tasks_per_s"] / theirs["procrastinate_throughput_jobs_per_s"],
           "ratio")
    figure("dispatch_p50_ratio_vs_procrastinate",
           theirs["procrastinate_dispatch_latency_p50_ms"]
           / ours["htdag_dispatch_latency_p50_ms"], "ratio")
    figure("chain_step_ratio_vs_langgraph",
           theirs["langgraph_chain_step_ms"] / ours["htdag_chain_step_overhead_ms"], "ratio")
    figure("fanout_ratio_vs_langgraph",
           ours["htdag_fanout_tasks_per_s"] / theirs["langgraph_fanout_tasks_per_s"], "ratio")
    note(f"benchmarks beside the peers took {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
