-- Wake-ups for ready tasks say who made them ready. A worker's exchange
-- completes tasks and then claims in the same transaction, so the tasks its
-- completions make ready are claimed at once; the NOTIFY they send carries
-- the worker's id (htdag.notify_origin, set for the transaction), and that
-- worker ignores it instead of spending a round trip on an empty claim. Every
-- other worker still wakes. Other callers leave the payload empty.
create or replace function htdag._notify_tasks()
returns void
language sql
set search_path = ''
as $$
    select pg_notify('htdag_tasks', coalesce(current_setting('htdag.notify_origin', true), ''));
$$;

-- Creates the tasks of steps whose dependencies are all complete. A map step
-- gets one task per element of its input array; an empty array completes it
-- at once with [] (which may start further steps).
create or replace function htdag._start_steps(p_run_id uuid, p_step_names text[])
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_run htdag.runs;
    v_step htdag.steps;
    v_array jsonb;
    v_count int;
begin
    select * into v_run from htdag.runs where run_id = p_run_id;
    for v_step in
        select * from htdag.steps
        where flow_hash = v_run.flow_hash and step_name = any (p_step_names)
        order by step_index
    loop
        if v_step.kind = 'map' then
            if v_step.deps_count = 0 then
                v_array := v_run.input;
            else
                select ss.output into v_array
                from htdag.deps d
                join htdag.step_states ss on ss.run_id = p_run_id and ss.step_name = d.dep_name
                where d.flow_hash = v_run.flow_hash and d.step_name = v_step.step_name;
            end if;
            if jsonb_typeof(v_array) is distinct from 'array' then
                perform htdag._fail_run(p_run_id, v_step.step_name, null, format(
                    'map step %L needs an array as input, got %s; make %s return a list',
                    v_step.step_name, coalesce(jsonb_typeof(v_array), 'nothing'),
                    case when v_step.deps_count = 0 then 'the run input'
                         else 'its dependency' end));
                return;
            end if;
            v_count := jsonb_array_length(v_array);
        else
            v_count := 1;
        end if;

        update htdag.step_states
        set status = 'started', started_at = now(), remaining_tasks = v_count, initial_tasks = v_count
        where run_id = p_run_id and step_name = v_step.step_name;

        if v_count > 0 and not htdag._take_task_budget(v_run.root_run_id, v_count) then
            perform htdag._fail_run(p_run_id, v_step.step_name, null, format(
                'task budget exceeded: step %L needs %s tasks, over the maximum for its root '
                'run %s; raise max_tasks or plan a smaller graph',
                v_step.step_name, v_count, v_run.root_run_id));
            return;
        end if;
        if v_count = 0 then
            perform htdag._complete_step(p_run_id, v_step.step_name, '[]'::jsonb);
        else
            insert into htdag.tasks (run_id, step_name, task_index, handler, priority,
                                     max_attempts, base_delay, max_delay, timeout)
            select p_run_id, v_step.step_name, i, v_step.handler, v_step.priority,
                   v_step.max_attempts, v_step.base_delay, v_step.max_delay, v_step.timeout
            from generate_series(0, v_count - 1) as i;
            perform htdag._notify_tasks();
        end if;
    end loop;
end;
$$;

-- One failed attempt: requeue with exponential backoff and jitter while
-- attempts remain and the error is retryable; otherwise fail the step and run.
-- A task no longer started (cancelled by an earlier failure of the same batch
-- that ended its run) is left alone: returns whether the failure was recorded.
create or replace function htdag._fail_task(
    p_task_id bigint, p_error text, p_retryable boolean, p_outcome text)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
    v_task htdag.tasks;
    v_delay double precision;
begin
    select * into v_task from htdag.tasks
    where task_id = p_task_id and status in ('started', 'waiting');
    if not found then
        return false;
    end if;
    insert into htdag.attempts (task_id, attempt, run_id, step_name, handler, worker_id, outcome,
                                queued_at, started_at, error)
    values (v_task.task_id, v_task.attempts_count, v_task.run_id, v_task.step_name,
            v_task.handler, v_task.worker_id, p_outcome, v_task.queued_at, v_task.started_at,
            p_error)
    on conflict do nothing;

    if p_retryable and v_task.attempts_count < v_task.max_attempts then
        v_delay := least(v_task.max_delay, v_task.base_delay * 2 ^ (v_task.attempts_count - 1))
                   * (0.5 + random() / 2);
        update htdag.tasks
        set status = 'queued', claim_token = null, lease_expires_at = null, worker_id = null,
            error = p_error, queued_at = now(),
            available_at = now() + make_interval(secs => v_delay)
        where task_id = p_task_id;
        perform htdag._notify_tasks();
    else
        update htdag.tasks
        set status = 'failed', failed_at = now(), error = p_error,
            claim_token = null, lease_expires_at = null
        where task_id = p_task_id;
        perform htdag._fail_run(v_task.run_id, v_task.step_name, v_task.task_index,
                                format('%s (attempt %s of %s)', p_error,
                                       v_task.attempts_count, v_task.max_attempts));
    end if;
    return true;
end;
$$;

-- A worker's one round trip: record finished and failed attempts, then claim
-- more. A worker that finishes a task can start the next ready one (possibly
-- the step its completion just started) without another round trip.
create or replace function htdag.worker_exchange(
    p_worker_id uuid,
    p_done_ids bigint[], p_done_tokens uuid[], p_done_outputs jsonb[],
    p_failed_ids bigint[], p_failed_tokens uuid[], p_failed_errors text[],
    p_failed_retryable boolean[],
    p_claim_limit int, p_handlers text[], p_lease_seconds double precision)
returns table (task_id bigint, claim_token uuid, run_id uuid, step_name text, task_index int,
               handler text, attempt int, timeout double precision, input jsonb)
language plpgsql
set search_path = ''
as $$
begin
    if cardinality(p_done_ids) = 0 and cardinality(p_failed_ids) = 0 then
        -- A claim alone need not wait for its WAL flush: if a crash loses it, the
        -- tasks are simply queued again (delivery is at least once), and the
        -- completion of a lost claim is rejected by its token. Completions and
        -- failures always commit synchronously.
        perform set_config('synchronous_commit', 'off', true);
    end if;
    -- The NOTIFY of tasks this exchange makes ready names this worker, which ignores
    -- it: the claim below, in the same transaction, already took what it could.
    perform set_config('htdag.notify_origin', p_worker_id::text, true);
    -- Task rows are locked in task_id order, as every transition does (see cancel_run).
    perform 1 from htdag.tasks t where t.task_id = any (p_done_ids || p_failed_ids)
    order by t.task_id for update;
    if cardinality(p_done_ids) > 0 then
        perform htdag.complete_tasks(p_done_ids, p_done_tokens, p_done_outputs);
    end if;
    if cardinality(p_failed_ids) > 0 then
        perform htdag.fail_tasks(p_failed_ids, p_failed_tokens, p_failed_errors, p_failed_retryable);
    end if;
    return query select * from htdag.claim_tasks(p_worker_id, p_claim_limit, p_handlers,
                                                 p_lease_seconds);
end;
$$;
