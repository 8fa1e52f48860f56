-- Records completed attempts reported by a worker, with their outputs: each
-- task's token must match and the task be started or waiting, else the task is
-- left alone (a stale token changes nothing). Then counts each step's remaining
-- tasks down (_count_down_steps), which starts what follows a completed step,
-- creating its tasks started for p_offer's worker while they fit. Returns the
-- ids of the tasks recorded (done) and what was made ready (made).
-- p_run_seconds: how long each handler ran, as its worker measured (or null).
-- A hedged task completes with either execution's token: the first wins, its
-- attempt records which (hedge), and the other execution is told to stop.
-- Planner settings, also for the functions it calls: plan_cache_mode =
-- force_generic_plan plans its statements once per session (without it a chain
-- step's server work is about 1.9 times as much: benchmarks/compare_versions.py
-- --work chain), and enable_seqscan = off keeps those plans, made while the
-- tables were small, off whole-table scans
-- (tests/integration/sql/planner_settings/test_complete_tasks_reaches_rows_by_key_after_many_runs.py
-- shows the scans of tasks and step_states it prevents).
-- Lock order (every transition): the worker's row, task rows in task_id order,
-- step states in (run_id, step_name) order, then runs.
create or replace function htdag.complete_tasks(
    p_task_ids bigint[], p_tokens uuid[], p_outputs jsonb[],
    p_offer htdag.task_offer default null, p_run_seconds double precision[] default null,
    out done bigint[], out made htdag.made_ready)
language plpgsql
set search_path = ''
set enable_seqscan = off
set plan_cache_mode = force_generic_plan
as $$
declare
    v_run_ids uuid[];
    v_step_names text[];
    v_counts int[];
    v_firsts jsonb[];
    v_hedged text[];  -- '<task_id>:<winning token>' of hedged tasks
begin
    made := row('{}', '{}');
    -- Task rows are locked in task_id order, as every transition does (see cancel_run);
    -- one row is locked by the update itself.
    if cardinality(p_task_ids) > 1 then
        perform 1 from htdag.tasks where task_id = any (p_task_ids) order by task_id for update;
    end if;
    with completed as (
        update htdag.tasks t
        set status = 'completed', completed_at = now(), output = b.output,
            claim_token = null, lease_expires_at = null
        from unnest(p_task_ids, p_tokens, p_outputs, p_run_seconds)
            as b(task_id, token, output, run_seconds)
        where t.task_id = b.task_id
          and (t.claim_token = b.token or t.hedge_token = b.token)
          and t.status in ('started', 'waiting')
        -- hedge_token stays: it tells which execution came first
        returning t.*, b.token as by_token, b.run_seconds
    ), recorded as (
        insert into htdag.attempts (task_id, attempt, run_id, step_name, handler, worker_id,
                                    outcome, queued_at, started_at, concurrency_key, hedge,
                                    run_seconds)
        select task_id, attempts_count, run_id, step_name, handler,
               case when hedge_token = by_token then hedge_worker_id else worker_id end,
               'completed', queued_at, started_at, concurrency_key,
               case when hedge_token is null then null
                    when hedge_token = by_token then 'won' else 'lost' end,
               run_seconds
        from completed
        returning task_id
    ), finished as (
        -- first: the output of the step's task 0 when the batch has it (a single
        -- step's only task).
        select d.run_id, d.step_name, count(*)::int as n,
               (array_agg(d.output) filter (where d.task_index = 0))[1] as first
        from completed d group by d.run_id, d.step_name
    )
    select (select array_agg(r.task_id) from recorded r),
           (select array_agg(c.task_id || ':' || c.by_token) from completed c
            where c.hedge_token is not null),
           array_agg(f.run_id order by f.run_id, f.step_name),
           array_agg(f.step_name order by f.run_id, f.step_name),
           array_agg(f.n order by f.run_id, f.step_name),
           array_agg(f.first order by f.run_id, f.step_name)
    into done, v_hedged, v_run_ids, v_step_names, v_counts, v_firsts
    from finished f;
    if v_hedged is not null then
        -- The other execution of a hedged task is told to stop: whoever runs the
        -- task without the winning token.
        perform pg_notify('htdag_cancel', 'task:' || h) from unnest(v_hedged) h;
    end if;
    if done is null then
        done := '{}';
        return;
    end if;

    made := htdag._count_down_steps(v_run_ids, v_step_names, v_counts, v_firsts, p_offer);
end;
$$;
