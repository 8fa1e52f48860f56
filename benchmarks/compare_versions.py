"""A chain step's server work on the current schema against an older one.

    .venv/bin/python benchmarks/compare_versions.py --baseline REV [--rounds 12]
        [--url URL] [--work chain|map]

Creates two databases on one server (a fresh embedded one by default): one with
the schema of a git revision (``HEAD~1``, a commit), one with the current schema.
The baseline database is built by that revision's own code (its htdag package,
extracted with ``git archive`` and run in a subprocess), so any revision works,
whatever the layout of its SQL. In each, a procedure
runs the 100-step chain of ``benchmarks/handlers.py`` as a worker would, but
inside the server: each step is one ``worker_exchange`` (complete the task, claim
the next) and a ``COMMIT``, with asynchronous commit so that waits for the disk
do not count. ``--work map`` measures throughput work instead: 20 runs of the
100-task map of the same file, each exchange completing the 100 tasks it claimed
last time and claiming 100 more, per task. Rounds alternate between the two
databases; the medians, their ratio and the WAL written per step (or task) are
printed as ``name value unit`` lines.

In one process and alternated because the machines this runs on drift by 10-30 %
from minute to minute, and a chain step's wall time is mostly round trips and the
WAL flush: a figure compared with one taken earlier says more about the machine
than about the change. Nothing connects the baseline database through htdag,
which would migrate it to the latest version.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parent))

import handlers as bench
import run_all

from htdag.core.db import LAYERS, apply_migrations

CHAIN_PROCEDURE = """
create procedure public.chain_step_in_server(p_flow_hash text, inout p_us double precision,
                                             inout p_wal_bytes double precision)
language plpgsql as $$
declare
    v_worker uuid := gen_random_uuid();
    v_ids bigint[];
    v_tokens uuid[];
    v_started timestamptz;
    v_lsn pg_lsn;
    v_steps int := 0;
begin
    perform htdag.start_run(p_flow_hash, 'null'::jsonb, null, null, 10, null);
    commit;
    select array_agg(x.task_id), array_agg(x.claim_token) into v_ids, v_tokens
    from htdag.worker_exchange(v_worker, '{}', '{}', '{}', '{}', '{}', '{}', '{}', 10, null,
                               30) x;
    commit;
    v_started := clock_timestamp();
    v_lsn := pg_current_wal_insert_lsn();
    while v_ids is not null loop
        select array_agg(x.task_id), array_agg(x.claim_token) into v_ids, v_tokens
        from htdag.worker_exchange(v_worker, v_ids, v_tokens,
                                   array_fill('0'::jsonb, array[cardinality(v_ids)]),
                                   '{}', '{}', '{}', '{}', 10, null, 30) x;
        commit;
        v_steps := v_steps + 1;
    end loop;
    p_us := extract(epoch from clock_timestamp() - v_started) * 1e6 / v_steps;
    p_wal_bytes := (pg_current_wal_insert_lsn() - v_lsn) / v_steps;
end;
$$;

create procedure public.map_tasks_in_server(p_flow_hash text, p_runs int,
                                            inout p_us double precision,
                                            inout p_wal_bytes double precision)
language plpgsql as $$
declare
    v_worker uuid := gen_random_uuid();
    v_ids bigint[] := '{}';
    v_tokens uuid[] := '{}';
    v_started timestamptz;
    v_lsn pg_lsn;
    v_tasks int := 0;
begin
    for i in 1 .. p_runs loop
        perform htdag.start_run(p_flow_hash, (select jsonb_agg(g) from generate_series(1, 100) g),
                                null, null, 10, null);
    end loop;
    commit;
    v_started := clock_timestamp();
    v_lsn := pg_current_wal_insert_lsn();
    loop
        select coalesce(array_agg(x.task_id), '{}'), coalesce(array_agg(x.claim_token), '{}')
        into v_ids, v_tokens
        from htdag.worker_exchange(v_worker, v_ids, v_tokens,
                                   array_fill('0'::jsonb, array[cardinality(v_ids)]),
                                   '{}', '{}', '{}', '{}', 100, null, 30) x;
        commit;
        exit when cardinality(v_ids) = 0;
        v_tasks := v_tasks + cardinality(v_ids);
    end loop;
    p_us := extract(epoch from clock_timestamp() - v_started) * 1e6 / v_tasks;
    p_wal_bytes := (pg_current_wal_insert_lsn() - v_lsn) / v_tasks;
end;
$$;
"""


async def prepare(url: str) -> None:
    """The flows and procedures the rounds run, in a database already migrated."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for flow in (bench.chain, bench.fanout):
            await conn.execute("select htdag.add_flow(%s, %s)",
                               (flow.hash, Jsonb(flow.to_definition())))
        await conn.execute(CHAIN_PROCEDURE)


async def migrate_current(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await apply_migrations(conn)


# Run by the baseline revision's own package: apply_migrations_sync has been its
# entry point for scripts and fixtures in every revision with an htdag.core.db.
MIGRATE_WITH_REVISION = (
    "import sys; sys.path.insert(0, sys.argv[1]);"
    "from htdag.core.db import apply_migrations_sync; apply_migrations_sync(sys.argv[2])")


@contextlib.contextmanager
def package_at_revision(revision: str) -> Iterator[Path]:
    """The htdag package as it was at a git revision, in a temporary folder."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="htdag-rev-") as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", revision, "htdag"],
                                 capture_output=True, check=False)
        if archive.returncode != 0:
            raise SystemExit(f"git archive {revision} failed: {archive.stderr.decode()}")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp)


def migrate_with_revision(package_root: Path, url: str) -> None:
    done = subprocess.run([sys.executable, "-c", MIGRATE_WITH_REVISION, str(package_root), url],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONSAFEPATH": "1"})
    if done.returncode != 0:
        raise SystemExit(f"the baseline revision could not build its schema:\n{done.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True,
                        help="what to compare with: a git revision (for example HEAD~1 "
                             "or a commit), whose own code builds its schema")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--url", default=os.environ.get("HTDAG_BENCH_URL"))
    parser.add_argument("--work", choices=("chain", "map"), default="chain",
                        help="chain: a 100-step chain, per step; map: 20 runs of a "
                             "100-task map in batches of 100, per task")
    args = parser.parse_args()
    latest = ",".join(f"{layer.name}:{layer.latest_version()}" for layer in LAYERS)
    unit = "step" if args.work == "chain" else "task"
    with contextlib.ExitStack() as stack, run_all.server(args.url) as (admin_url, kind):
        baseline_package = stack.enter_context(package_at_revision(args.baseline))
        run_all.note(f"server: {kind}, {run_all.server_version(admin_url)}")
        names = {"baseline": f"htdag_cmp_{os.getpid()}_base",
                 "current": f"htdag_cmp_{os.getpid()}_current"}
        conns: dict[str, psycopg.Connection[tuple[float, float]]] = {}
        try:
            for which, name in names.items():
                run_all.create_database(admin_url, name)
                url = run_all.with_database(admin_url, name)
                if which == "baseline":
                    migrate_with_revision(baseline_package, url)
                else:
                    asyncio.run(migrate_current(url))
                asyncio.run(prepare(url))
                conns[which] = psycopg.connect(url, autocommit=True)
                conns[which].execute("set synchronous_commit = off")
            us: dict[str, list[float]] = {w: [] for w in names}
            wal: dict[str, list[float]] = {w: [] for w in names}
            for n in range(args.rounds + 1):  # the first round warms up
                for which in (names if n % 2 == 0 else list(names)[::-1]):
                    row = conns[which].execute(
                        "call public.chain_step_in_server(%s, null, null)",
                        (bench.chain.hash,)).fetchone() if args.work == "chain" else (
                        conns[which].execute(
                            "call public.map_tasks_in_server(%s, 20, null, null)",
                            (bench.fanout.hash,)).fetchone())
                    assert row is not None
                    if n > 0:
                        us[which].append(row[0])
                        wal[which].append(row[1])
            for which in names:
                run_all.note(f"{which}: {', '.join(f'{x:.0f}' for x in us[which])} us/{unit}")
        finally:
            for conn in conns.values():
                conn.close()
            for name in names.values():
                run_all.drop_database(admin_url, name)
    base, cur = statistics.median(us["baseline"]), statistics.median(us["current"])
    run_all.note(f"baseline: the schema of {args.baseline}; current: {latest}")
    what = "chain_step" if args.work == "chain" else "map_task"
    run_all.figure(f"{what}_server_us_baseline", base, "us")
    run_all.figure(f"{what}_server_us_current", cur, "us")
    run_all.figure(f"{what}_server_ratio_current_vs_baseline", cur / base, "ratio")
    run_all.figure(f"wal_bytes_per_{unit}_baseline", statistics.median(wal["baseline"]), "bytes")
    run_all.figure(f"wal_bytes_per_{unit}_current", statistics.median(wal["current"]), "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
