"""The audit after the chaos (see chaos.py): plain SQL on htdag.* and the
handlers' own log of entries; returns the figures and every problem found."""

from __future__ import annotations

import collections
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString

import chaos_handlers
import psycopg
from psycopg.rows import dict_row

MAP_STEPS = ("square", "shift")


@dataclass
class ChaosReport:
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        return [f"{name}: {value}" for name, value in self.figures.items()]


@dataclass
class StartedRun:
    base: int
    n: int


def query(db: str | psycopg.Connection[Any], statement: LiteralString,
          params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows of one statement, on ``db`` (a connection) or a new connection to it (a URL)."""
    if isinstance(db, str):
        with psycopg.connect(db, autocommit=True, connect_timeout=10) as conn:
            return query(conn, statement, params)
    cur = db.cursor(row_factory=dict_row)
    cur.execute(statement, params)
    return cur.fetchall()



# --- the audit --------------------------------------------------------------------------


def handler_entries(entries_dir: Path) -> list[tuple[int, int]]:
    """(task_id, attempt) of every handler entry the workers logged."""
    found = []
    for path in entries_dir.glob("entries-*.log"):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
                found.append((int(parts[0]), int(parts[1])))
    return found


def audit(dsn: str, runs: dict[uuid.UUID, StartedRun], entries_dir: Path) -> ChaosReport:
    """Checks the database after the chaos with plain SQL on htdag.* (see the module
    docstring); returns the figures and every problem found."""
    report = ChaosReport()
    problems = report.problems

    def problem(what: str, examples: list[Any]) -> None:
        if examples:
            problems.append(f"{what}: {len(examples)}, e.g. {examples[:5]}")

    # Runs: completed, with the output their input implies, no step left to do.
    db_runs = {r["run_id"]: r for r in query(
        dsn, "select run_id, status::text as status, output, error, remaining_steps"
             " from htdag.runs")}
    problem("runs missing from htdag.runs", [str(i) for i in runs if i not in db_runs])
    problem("runs nobody started here", [str(i) for i in db_runs if i not in runs])
    not_completed = [(str(i), r["status"], str(r["error"])[:300]) for i, r in db_runs.items()
                     if r["status"] != "completed"]
    problem("runs not completed", not_completed)
    wrong_output = [(str(i), runs[i], r["output"]) for i, r in db_runs.items()
                    if i in runs and r["status"] == "completed"
                    and r["output"] != chaos_handlers.expected_output(runs[i].base, runs[i].n)]
    problem("completed runs with a wrong output", wrong_output)
    problem("completed runs with remaining_steps <> 0",
            [(str(i), r["remaining_steps"]) for i, r in db_runs.items()
             if r["status"] == "completed" and r["remaining_steps"] != 0])

    # Tasks: one row per (run, step, index), each completed.
    rows = query(dsn, "select run_id, step_name, count(*) as task_rows,"
                      " count(distinct task_index) as indexes,"
                      " count(*) filter (where status = 'completed') as completed,"
                      " coalesce(max(task_index), -1) as max_index"
                      " from htdag.tasks group by run_id, step_name")
    by_step = {(r["run_id"], r["step_name"]): r for r in rows}
    expected_tasks = tasks_lost = 0
    extra_rows = []
    for run_id, run in runs.items():
        for step, count in (("gen", 1), ("square", run.n), ("shift", run.n), ("total", 1)):
            expected_tasks += count
            got = by_step.get((run_id, step))
            completed = int(got["completed"]) if got else 0
            # Only indexes 0..count-1 are tasks of this step; a completed row outside
            # them, or a second row for an index, does not make up for a lost one.
            if got and (int(got["task_rows"]) != count or int(got["indexes"]) != count
                        or int(got["max_index"]) != count - 1):
                extra_rows.append((str(run_id), step, count, dict(got)))
                completed = min(completed, int(got["indexes"]), count)
            tasks_lost += max(0, count - completed)
    problem("steps whose task rows are not one per index 0..n-1", extra_rows)

    leftovers = {r["status"]: int(r["n"]) for r in query(
        dsn, "select status::text as status, count(*) as n from htdag.tasks"
             " where status <> 'completed' group by 1")}
    problem("tasks not completed, by status", sorted(leftovers.items()))

    # Attempts: exactly one 'completed' per task, the task's last, and (map steps) the
    # one whose output the task stores.
    double_completed = {int(r["task_id"]) for r in query(
        dsn, "select task_id from htdag.attempts where outcome = 'completed'"
             " group by task_id having count(*) > 1")}
    problem("tasks with more than one 'completed' attempt", sorted(double_completed))
    problem("completed tasks without a 'completed' attempt", [r["task_id"] for r in query(
        dsn, "select t.task_id from htdag.tasks t where t.status = 'completed' and not exists"
             " (select 1 from htdag.attempts a where a.task_id = t.task_id"
             "  and a.outcome = 'completed')")])
    completed_attempts = query(
        dsn, "select t.task_id, t.step_name, t.attempts_count, a.attempt,"
             " (t.output ->> 'attempt')::int as output_attempt"
             " from htdag.tasks t join htdag.attempts a"
             " on a.task_id = t.task_id and a.outcome = 'completed'")
    problem("completed attempts that are not the task's last (attempts_count)",
            [dict(r) for r in completed_attempts if r["attempt"] != r["attempts_count"]])
    problem("map tasks storing the output of another attempt than the completed one",
            [dict(r) for r in completed_attempts
             if r["step_name"] in MAP_STEPS and r["output_attempt"] != r["attempt"]])

    # A result applied twice shows in the aggregate: an element listed twice.
    applied_twice = []
    for run_id, r in db_runs.items():
        xs = ((r["output"] or {}).get("total") or {}).get("xs") or []
        applied_twice += [(str(run_id), x) for x, c in collections.Counter(xs).items() if c > 1]
    problem("map elements aggregated more than once", applied_twice)

    # Step states: counters at zero, initial_tasks = task rows, output = the tasks'
    # outputs (map: in index order).
    step_rows = query(dsn, """
        select ss.run_id, ss.step_name, ss.status::text as status, ss.remaining_deps,
               ss.remaining_tasks, ss.initial_tasks, tk.task_rows,
               ss.output is not distinct from case when st.kind = 'map' then tk.outputs
                                                   else tk.outputs -> 0 end as output_matches
        from htdag.step_states ss
        join htdag.runs r on r.run_id = ss.run_id
        join htdag.steps st on st.flow_hash = r.flow_hash and st.step_name = ss.step_name
        cross join lateral (
            select count(*) as task_rows,
                   coalesce(jsonb_agg(t.output order by t.task_index), '[]'::jsonb) as outputs
            from htdag.tasks t where t.run_id = ss.run_id and t.step_name = ss.step_name
        ) tk""")
    steps_per_run = collections.Counter(r["run_id"] for r in step_rows)
    problem("runs without exactly 4 step states",
            [(str(i), steps_per_run[i]) for i in runs if steps_per_run[i] != 4])
    problem("step states not completed", [
        (str(r["run_id"]), r["step_name"], r["status"]) for r in step_rows
        if r["status"] != "completed"])
    problem("step states whose counters disagree with their task rows", [
        {k: (str(v) if k == "run_id" else v) for k, v in r.items()} for r in step_rows
        if r["status"] == "completed"
        and (r["remaining_deps"] != 0 or r["remaining_tasks"] != 0
             or r["initial_tasks"] != r["task_rows"] or not r["output_matches"])])

    # Re-executions: the handlers' own count, and the engine's attempt rows.
    entries = handler_entries(entries_dir)
    entries_per_task = collections.Counter(task_id for task_id, _ in entries)
    entered_attempts = set(entries)
    problem("completed attempts whose handler never ran (no handler entry)", [
        (r["task_id"], r["attempt"]) for r in completed_attempts
        if (int(r["task_id"]), int(r["attempt"])) not in entered_attempts])
    attempts_not_completed = query(
        dsn, "select count(*) as n from htdag.attempts where outcome <> 'completed'")[0]["n"]
    max_attempts = query(dsn, "select coalesce(max(attempts_count), 0) as n from htdag.tasks"
                         )[0]["n"]

    report.figures = {
        "runs": len(runs),
        "runs_completed": sum(r["status"] == "completed" for r in db_runs.values()),
        "tasks": expected_tasks,
        "tasks_lost": tasks_lost,
        # By the attempt rows, or by the aggregates (an element applied twice).
        "tasks_double_completed": len(double_completed) + len(applied_twice),
        "reexecutions": sum(c - 1 for c in entries_per_task.values()),
        "reexecutions_measured_by": "handler entries beyond the first per task",
        "handler_entries": len(entries),
        "handler_entries_repeating_an_attempt": len(entries) - len(entered_attempts),
        "attempts_not_completed": int(attempts_not_completed),
        "max_attempts_of_a_task": int(max_attempts),
    }
    return report


# --- the command ----------------------------------------------------------------------
