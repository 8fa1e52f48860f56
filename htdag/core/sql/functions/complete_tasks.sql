-- Records completed attempts reported by a worker, with their outputs: each
-- task's token must match and the task be started or waiting, else the task is
-- left alone (a stale token changes nothing). Counts each step's remaining
-- tasks down; a step at 0 completes (a single step in the counting update
-- itself) and what follows it runs (_step_completed). Returns the ids of the
-- tasks recorded.
-- The planner settings keep every statement (and those of the functions it
-- calls) on index lookups and nested loops: the batch touches a few rows by key,
-- and statistics lag behind a queue (see claim_tasks), which otherwise turns a
-- completion into scans of the tasks and step_states tables.
-- Lock order (every transition): the worker's row, task rows in task_id order,
-- step states in (run_id, step_name) order, then runs.
create or replace function htdag.complete_tasks(
    p_task_ids bigint[], p_tokens uuid[], p_outputs jsonb[])
returns bigint[]
language plpgsql
set search_path = ''
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set plan_cache_mode = force_generic_plan
as $$
declare
    v_done bigint[];
    v_run_ids uuid[];
    v_step_names text[];
    v_counts int[];
    v_firsts jsonb[];
    v_step record;
begin
    -- Task rows are locked in task_id order, as every transition does (see cancel_run);
    -- one row is locked by the update itself.
    if cardinality(p_task_ids) > 1 then
        perform 1 from htdag.tasks where task_id = any (p_task_ids) order by task_id for update;
    end if;
    with done as (
        update htdag.tasks t
        set status = 'completed', completed_at = now(), output = b.output,
            claim_token = null, lease_expires_at = null
        from unnest(p_task_ids, p_tokens, p_outputs) as b(task_id, token, output)
        where t.task_id = b.task_id and t.claim_token = b.token
          and t.status in ('started', 'waiting')
        returning t.*
    ), recorded as (
        insert into htdag.attempts (task_id, attempt, run_id, step_name, handler, worker_id,
                                    outcome, queued_at, started_at)
        select task_id, attempts_count, run_id, step_name, handler, worker_id,
               'completed', queued_at, started_at
        from done
        returning task_id
    ), finished as (
        -- first: the output of the step's task 0 when the batch has it (a single
        -- step's only task).
        select d.run_id, d.step_name, count(*)::int as n,
               (array_agg(d.output) filter (where d.task_index = 0))[1] as first
        from done d group by d.run_id, d.step_name
    )
    select (select array_agg(r.task_id) from recorded r),
           array_agg(f.run_id order by f.run_id, f.step_name),
           array_agg(f.step_name order by f.run_id, f.step_name),
           array_agg(f.n order by f.run_id, f.step_name),
           array_agg(f.first order by f.run_id, f.step_name)
    into v_done, v_run_ids, v_step_names, v_counts, v_firsts
    from finished f;
    if v_done is null then
        return '{}';
    end if;

    -- Lock the step rows in one order so concurrent batches cannot deadlock (one
    -- row is locked by the update itself).
    if cardinality(v_run_ids) > 1 then
        perform 1 from htdag.step_states ss
        join unnest(v_run_ids, v_step_names) as f(run_id, step_name)
          on ss.run_id = f.run_id and ss.step_name = f.step_name
        order by ss.run_id, ss.step_name
        for update of ss;
    end if;

    for v_step in
        update htdag.step_states ss
        -- (A single step whose count reaches 0 completes: the same test three times.)
        set remaining_tasks = ss.remaining_tasks - f.n,
            status = case when s.kind = 'single' and ss.remaining_tasks = f.n
                               and f.first is not null then 'completed' else ss.status end,
            output = case when s.kind = 'single' and ss.remaining_tasks = f.n
                               and f.first is not null then f.first else ss.output end,
            completed_at = case when s.kind = 'single' and ss.remaining_tasks = f.n
                                     and f.first is not null then now()
                                else ss.completed_at end
        from unnest(v_run_ids, v_step_names, v_counts, v_firsts)
                 as f(run_id, step_name, n, first),
             htdag.steps s
        where ss.run_id = f.run_id and ss.step_name = f.step_name and ss.status = 'started'
          and s.flow_hash = ss.flow_hash and s.step_name = ss.step_name
        returning ss.run_id, ss.step_name, ss.remaining_tasks, ss.flow_hash, ss.status
    loop
        if v_step.status = 'completed' then
            perform htdag._step_completed(v_step.run_id, v_step.step_name, v_step.flow_hash);
        elsif v_step.remaining_tasks = 0 then
            perform htdag._complete_step(v_step.run_id, v_step.step_name, (
                select jsonb_agg(t.output order by t.task_index) from htdag.tasks t
                where t.run_id = v_step.run_id and t.step_name = v_step.step_name));
        end if;
    end loop;
    return v_done;
end;
$$;
