-- The state rules of a task (tasks_state_rules): a status has the columns it
-- needs (a started task a lease, a claimed one a token, a waiting one its child
-- run), attempts stay within max_attempts. Refuses a row that breaks one
-- (_refuse_row). Immutable and without a SET clause, as _run_state_ok.
create or replace function htdag._task_state_ok(
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
