-- The state machine's rules for runs, step states and tasks, one CHECK per table
-- that calls one rule function per table, instead of a CHECK per rule.
--
-- Why: PostgreSQL re-reads (stringToNode) and re-prepares every CHECK expression of
-- a table in every statement that writes it. A task write carried about 8,000
-- characters of expression trees over nine constraints; perf put that (in
-- ExecConstraints) at about a sixth of the backend's time in a chain of one-task
-- steps, where each statement writes one row. One call of an immutable PL/pgSQL
-- function reads a far smaller tree and costs about a microsecond per row.
--
-- The rules and their names are unchanged: a row that breaks one is refused with
-- SQLSTATE 23514 (check_violation) naming the rule as its constraint (the error's
-- constraint_name), as before, now with a detail that says what the rule wants.
-- The functions take no SET clause on purpose: one would wrap every row's call in a
-- save and restore of settings. They read nothing but their arguments.

create function htdag._refuse_row(p_table text, p_rule text, p_detail text)
returns boolean
language plpgsql
immutable
as $$
begin
    raise exception 'new row for relation "%" violates check constraint "%"', p_table, p_rule
        using errcode = 'check_violation', constraint = p_rule, table = p_table,
              schema = 'htdag', detail = p_detail;
end;
$$;

create function htdag._run_state_ok(
    p_status htdag.run_status, p_remaining_steps int, p_depth int, p_max_tasks int,
    p_output jsonb, p_error jsonb, p_completed_at timestamptz, p_failed_at timestamptz,
    p_cancelled_at timestamptz)
returns boolean
language plpgsql
immutable
as $$
begin
    if p_remaining_steps < 0 then
        return htdag._refuse_row('runs', 'runs_remaining_steps_check',
            'remaining_steps is never negative');
    elsif p_depth < 0 then
        return htdag._refuse_row('runs', 'runs_depth_check', 'depth is never negative');
    elsif p_max_tasks < 1 then
        return htdag._refuse_row('runs', 'runs_max_tasks_check',
            'max_tasks is null (no budget) or at least 1');
    elsif (p_status = 'completed') <> (p_completed_at is not null)
          or (p_status = 'completed' and (p_output is null or p_remaining_steps <> 0)) then
        return htdag._refuse_row('runs', 'completed_has_output',
            'a run is completed exactly when it has completed_at; then it has an output and no remaining steps');
    elsif (p_status = 'failed') <> (p_failed_at is not null)
          or (p_status = 'failed' and p_error is null) then
        return htdag._refuse_row('runs', 'failed_has_error',
            'a run is failed exactly when it has failed_at; then it has an error');
    elsif (p_status = 'cancelled') <> (p_cancelled_at is not null) then
        return htdag._refuse_row('runs', 'cancelled_has_time',
            'a run is cancelled exactly when it has cancelled_at');
    end if;
    return true;
end;
$$;

create function htdag._step_state_ok(
    p_status htdag.step_status, p_remaining_deps int, p_remaining_tasks int,
    p_initial_tasks int, p_output jsonb, p_error text, p_started_at timestamptz,
    p_completed_at timestamptz, p_failed_at timestamptz)
returns boolean
language plpgsql
immutable
as $$
begin
    if p_remaining_deps < 0 then
        return htdag._refuse_row('step_states', 'step_states_remaining_deps_check',
            'remaining_deps is never negative');
    elsif p_remaining_tasks < 0 then
        return htdag._refuse_row('step_states', 'step_states_remaining_tasks_check',
            'remaining_tasks is never negative');
    elsif p_initial_tasks < 0 then
        return htdag._refuse_row('step_states', 'step_states_initial_tasks_check',
            'initial_tasks is never negative');
    elsif p_status in ('started', 'completed')
          and (p_started_at is null or p_initial_tasks is null) then
        return htdag._refuse_row('step_states', 'started_has_tasks',
            'a started or completed step has started_at and initial_tasks');
    elsif (p_status = 'completed') <> (p_completed_at is not null)
          or (p_status = 'completed'
              and (p_output is null or p_remaining_tasks is distinct from 0)) then
        return htdag._refuse_row('step_states', 'completed_has_output',
            'a step is completed exactly when it has completed_at; then it has an output and no remaining tasks');
    elsif (p_status = 'failed') <> (p_failed_at is not null)
          or (p_status = 'failed' and p_error is null) then
        return htdag._refuse_row('step_states', 'failed_has_error',
            'a step is failed exactly when it has failed_at; then it has an error');
    end if;
    return true;
end;
$$;

create function htdag._task_state_ok(
    p_status htdag.task_status, p_task_index int, p_attempts_count int, p_max_attempts int,
    p_output jsonb, p_error text, p_completed_at timestamptz, p_failed_at timestamptz,
    p_cancelled_at timestamptz, p_claim_token uuid, p_lease_expires_at timestamptz,
    p_waiting_for_run_id uuid)
returns boolean
language plpgsql
immutable
as $$
begin
    if p_task_index < 0 then
        return htdag._refuse_row('tasks', 'tasks_task_index_check',
            'task_index is never negative');
    elsif p_attempts_count < 0 then
        return htdag._refuse_row('tasks', 'tasks_attempts_count_check',
            'attempts_count is never negative');
    elsif p_max_attempts < 1 then
        return htdag._refuse_row('tasks', 'tasks_max_attempts_check',
            'max_attempts is at least 1');
    elsif p_attempts_count > p_max_attempts then
        return htdag._refuse_row('tasks', 'attempts_within_limit',
            'attempts_count never exceeds max_attempts');
    elsif (p_status = 'started') <> (p_lease_expires_at is not null)
          or (p_status in ('started', 'waiting')) <> (p_claim_token is not null) then
        return htdag._refuse_row('tasks', 'started_has_lease',
            'a task has a lease exactly when started, and a claim token exactly when started or waiting');
    elsif p_status = 'waiting' and p_waiting_for_run_id is null then
        return htdag._refuse_row('tasks', 'waiting_has_child',
            'a waiting task names the run it waits for (waiting_for_run_id)');
    elsif (p_status = 'completed') <> (p_completed_at is not null)
          or (p_status = 'completed' and p_output is null) then
        return htdag._refuse_row('tasks', 'completed_has_output',
            'a task is completed exactly when it has completed_at; then it has an output');
    elsif (p_status = 'failed') <> (p_failed_at is not null)
          or (p_status = 'failed' and p_error is null) then
        return htdag._refuse_row('tasks', 'failed_has_error',
            'a task is failed exactly when it has failed_at; then it has an error');
    elsif (p_status = 'cancelled') <> (p_cancelled_at is not null) then
        return htdag._refuse_row('tasks', 'cancelled_has_time',
            'a task is cancelled exactly when it has cancelled_at');
    end if;
    return true;
end;
$$;

alter table htdag.runs
    drop constraint completed_has_output,
    drop constraint failed_has_error,
    drop constraint cancelled_has_time,
    drop constraint runs_remaining_steps_check,
    drop constraint runs_depth_check,
    drop constraint runs_max_tasks_check,
    add constraint runs_state_rules check (htdag._run_state_ok(
        status, remaining_steps, depth, max_tasks, output, error, completed_at, failed_at,
        cancelled_at));

alter table htdag.step_states
    drop constraint started_has_tasks,
    drop constraint completed_has_output,
    drop constraint failed_has_error,
    drop constraint step_states_remaining_deps_check,
    drop constraint step_states_remaining_tasks_check,
    drop constraint step_states_initial_tasks_check,
    add constraint step_states_state_rules check (htdag._step_state_ok(
        status, remaining_deps, remaining_tasks, initial_tasks, output, error, started_at,
        completed_at, failed_at));

alter table htdag.tasks
    drop constraint started_has_lease,
    drop constraint waiting_has_child,
    drop constraint attempts_within_limit,
    drop constraint completed_has_output,
    drop constraint failed_has_error,
    drop constraint cancelled_has_time,
    drop constraint tasks_task_index_check,
    drop constraint tasks_attempts_count_check,
    drop constraint tasks_max_attempts_check,
    add constraint tasks_state_rules check (htdag._task_state_ok(
        status, task_index, attempts_count, max_attempts, output, error, completed_at,
        failed_at, cancelled_at, claim_token, lease_expires_at, waiting_for_run_id));
