-- Fewer statements per step completion: the last completion of a step completes
-- it in the update that counts it (one write of its step_states row, not two),
-- and the step's dependents are counted down in one statement (0004 read the
-- dependency edges, then updated the rows).

-- What follows a step's completion: the run completes, or the dependents whose
-- last dependency this was start. The planner settings keep the dependents'
-- update on the edge index and then the step rows by key (run_id, step_name):
-- never a read of every step of the run, which statistics shaped by other
-- flows would make the planner choose.
create or replace function htdag._step_completed(
    p_run_id uuid, p_step_name text, p_flow_hash text)
returns void
language plpgsql
set search_path = ''
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
as $$
declare
    v_remaining int;
    v_ready text[];
begin
    update htdag.runs set remaining_steps = remaining_steps - 1
    where run_id = p_run_id and status = 'running'
    returning remaining_steps into v_remaining;
    if v_remaining is null then
        return;
    elsif v_remaining = 0 then
        perform htdag._complete_run(p_run_id);
        return;
    end if;
    with dependents as (
        update htdag.step_states ss
        set remaining_deps = ss.remaining_deps - 1
        from htdag.deps d
        where d.flow_hash = p_flow_hash and d.dep_name = p_step_name
          and ss.run_id = p_run_id and ss.step_name = d.step_name
        returning ss.step_name, ss.remaining_deps
    )
    select array_agg(step_name) filter (where remaining_deps = 0) into v_ready
    from dependents;
    if v_ready is not null then
        perform htdag._start_steps(p_run_id, v_ready);
    end if;
end;
$$;

-- Marks a step complete (an empty map step, 0003), then what follows.
create or replace function htdag._complete_step(p_run_id uuid, p_step_name text, p_output jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_flow_hash text;
begin
    update htdag.step_states
    set status = 'completed', output = p_output, remaining_tasks = 0, completed_at = now()
    where run_id = p_run_id and step_name = p_step_name and status = 'started'
    returning flow_hash into v_flow_hash;
    if found then
        perform htdag._step_completed(p_run_id, p_step_name, v_flow_hash);
    end if;
end;
$$;

-- complete_tasks (0010, 0036), completing steps as it counts their tasks.
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

    -- A step whose last tasks these are is completed by the same update that counts
    -- them (its output assembled from its tasks); what follows comes after.
    for v_step in
        update htdag.step_states ss
        set remaining_tasks = ss.remaining_tasks - f.n,
            status = case when ss.remaining_tasks = f.n then 'completed'::htdag.step_status
                          else ss.status end,
            completed_at = case when ss.remaining_tasks = f.n then now()
                                else ss.completed_at end,
            output = case when ss.remaining_tasks = f.n then (
                select case when s.kind = 'single' then
                           (select t.output from htdag.tasks t
                            where t.run_id = ss.run_id and t.step_name = ss.step_name)
                       else
                           (select jsonb_agg(t.output order by t.task_index) from htdag.tasks t
                            where t.run_id = ss.run_id and t.step_name = ss.step_name)
                       end
                from htdag.steps s
                where s.flow_hash = ss.flow_hash and s.step_name = ss.step_name)
                else ss.output end
        from unnest(v_run_ids, v_step_names, v_counts) as f(run_id, step_name, n)
        where ss.run_id = f.run_id and ss.step_name = f.step_name and ss.status = 'started'
        returning ss.run_id, ss.step_name, ss.remaining_tasks, ss.flow_hash
    loop
        if v_step.remaining_tasks = 0 then
            perform htdag._step_completed(v_step.run_id, v_step.step_name, v_step.flow_hash);
        end if;
    end loop;
    return v_done;
end;
$$;
