-- Fewer statements per completion (each one that writes a table with CHECK
-- constraints also re-reads them): a chain step is a handful of statements less.
-- (worker_exchange's own lock statement goes the same way in 0037.)

-- The budget check reads the root run once; only a limited budget is written.
create or replace function htdag._take_task_budget(p_root_run_id uuid, p_count int)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
    v_max int;
begin
    select max_tasks into v_max from htdag.runs where run_id = p_root_run_id;
    if v_max is null then
        return true;
    end if;
    update htdag.runs
    set tasks_created = tasks_created + p_count
    where run_id = p_root_run_id and tasks_created + p_count <= max_tasks;
    return found;
end;
$$;

-- task.timed_out: a row trigger that fires only for a timed-out attempt, instead
-- of a statement trigger over every completion batch's attempts.
create or replace function htdag._attempt_event()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if htdag._task_events_on() then
        perform htdag._append_event(
            'task.timed_out', new.run_id,
            (select r.root_run_id from htdag.runs r where r.run_id = new.run_id),
            new.step_name,
            (select t.task_index from htdag.tasks t where t.task_id = new.task_id),
            jsonb_build_object('attempt', new.attempt, 'worker_id', new.worker_id,
                               'error', new.error));
    end if;
    return null;
end;
$$;

drop trigger attempts_insert_events on htdag.attempts;
drop function htdag._attempt_events();
create trigger attempts_timed_out_events after insert on htdag.attempts
    for each row when (new.outcome = 'timed_out')
    execute function htdag._attempt_event();

-- complete_tasks (0010) without the lock statements a single task or step needs not.
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
        returning task_id, run_id, step_name
    ), finished as (
        select r.run_id, r.step_name, count(*)::int as n
        from recorded r group by r.run_id, r.step_name
    )
    select (select array_agg(r.task_id) from recorded r),
           array_agg(f.run_id order by f.run_id, f.step_name),
           array_agg(f.step_name order by f.run_id, f.step_name),
           array_agg(f.n order by f.run_id, f.step_name)
    into v_done, v_run_ids, v_step_names, v_counts
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
        set remaining_tasks = ss.remaining_tasks - f.n
        from unnest(v_run_ids, v_step_names, v_counts) as f(run_id, step_name, n)
        where ss.run_id = f.run_id and ss.step_name = f.step_name and ss.status = 'started'
        returning ss.run_id, ss.step_name, ss.remaining_tasks, ss.flow_hash
    loop
        if v_step.remaining_tasks = 0 then
            perform htdag._complete_step(v_step.run_id, v_step.step_name, (
                select case when s.kind = 'single' then
                           (select t.output from htdag.tasks t
                            where t.run_id = v_step.run_id and t.step_name = v_step.step_name)
                       else
                           (select jsonb_agg(t.output order by t.task_index) from htdag.tasks t
                            where t.run_id = v_step.run_id and t.step_name = v_step.step_name)
                       end
                from htdag.steps s
                where s.flow_hash = v_step.flow_hash and s.step_name = v_step.step_name));
        end if;
    end loop;
    return v_done;
end;
$$;
