-- One failed attempt of a started or waiting task, recorded with p_outcome
-- (failed, timed_out or lost): requeued with exponential backoff and jitter
-- while attempts remain, the error is retryable and its step does not refuse
-- the retry (_retry_refusal: fail_fast, retry_budget; not for a lost worker)
-- (and announced: NOTIFY htdag_tasks, to every worker), else the
-- task, its step and its run fail (with p_error_code). p_token: the reporting
-- execution's (a hedged task's attempt records whether its hedge came first;
-- requeued, it is no longer hedged); p_run_seconds: how long its handler ran,
-- as the worker measured (null when unknown). Returns whether the failure was recorded: a
-- task no longer started or waiting (cancelled by an earlier failure of the same
-- batch that ended its run) is left alone.
create or replace function htdag._fail_task(
    p_task_id bigint, p_error text, p_retryable boolean, p_outcome text,
    p_error_code htdag.error_code default null, p_token uuid default null,
    p_run_seconds double precision default null)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
    v_task htdag.tasks;
    v_delay double precision;
    v_refusal text;
begin
    select * into v_task from htdag.tasks
    where task_id = p_task_id and status in ('started', 'waiting');
    if not found then
        return false;
    end if;
    insert into htdag.attempts (task_id, attempt, run_id, step_name, handler, worker_id, outcome,
                                queued_at, started_at, error, concurrency_key, hedge,
                                run_seconds)
    values (v_task.task_id, v_task.attempts_count, v_task.run_id, v_task.step_name,
            v_task.handler,
            case when v_task.hedge_token = p_token then v_task.hedge_worker_id
                 else v_task.worker_id end,
            p_outcome, v_task.queued_at, v_task.started_at, p_error, v_task.concurrency_key,
            case when v_task.hedge_token is null then null
                 when v_task.hedge_token = p_token then 'won' else 'lost' end,
            p_run_seconds)
    on conflict do nothing;

    if p_retryable and v_task.attempts_count < v_task.max_attempts and p_outcome <> 'lost' then
        v_refusal := htdag._retry_refusal(v_task, p_error, p_outcome);
    end if;
    if p_retryable and v_task.attempts_count < v_task.max_attempts and v_refusal is null then
        v_delay := least(v_task.max_delay, v_task.base_delay * 2 ^ (v_task.attempts_count - 1))
                   * (0.5 + random() / 2);
        update htdag.tasks
        set status = 'queued', claim_token = null, lease_expires_at = null, worker_id = null,
            hedge_token = null, hedge_worker_id = null, hedge_started_at = null,
            error = p_error, queued_at = now(),
            available_at = now() + make_interval(secs => v_delay)
        where task_id = p_task_id;
        perform pg_notify('htdag_tasks', '');
    else
        update htdag.tasks
        set status = 'failed', failed_at = now(),
            error = p_error || coalesce(' (' || v_refusal || ')', ''),
            claim_token = null, lease_expires_at = null
        where task_id = p_task_id;
        perform htdag._fail_run(v_task.run_id, v_task.step_name, v_task.task_index,
                                format('%s (attempt %s of %s%s)', p_error,
                                       v_task.attempts_count, v_task.max_attempts,
                                       '; ' || v_refusal),
                                p_error_code);
    end if;
    return true;
end;
$$;
