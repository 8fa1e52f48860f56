-- Records failed attempts reported by a worker (_fail_task for each, in
-- task_id order), each with its error, whether it may be retried and its error
-- code (null for most; limit_reached when a limit stopped the handler,
-- timed_out when the step's timeout ran out: the attempt's outcome) and how
-- long its handler ran (p_run_seconds, as the worker measured). A hedged
-- task fails with either execution's token: the first outcome wins. Stale
-- tokens change nothing. Returns the ids of the tasks
-- whose failure was recorded.
-- Lock order (every transition): the worker's row, task rows in task_id order,
-- step states in (run_id, step_name) order, then runs.
create or replace function htdag.fail_tasks(
    p_task_ids bigint[], p_tokens uuid[], p_errors text[], p_retryable boolean[],
    p_error_codes htdag.error_code[] default null,
    p_run_seconds double precision[] default null)
returns bigint[]
language plpgsql
set search_path = ''
as $$
declare
    v_row record;
    v_done bigint[] := '{}';
    v_recorded boolean;
begin
    -- Task rows are locked in task_id order, as every transition does (see cancel_run).
    perform 1 from htdag.tasks where task_id = any (p_task_ids) order by task_id for update;
    for v_row in
        select t.task_id, b.token, b.error, b.retryable, b.error_code, b.run_seconds
        from unnest(p_task_ids, p_tokens, p_errors, p_retryable,
                    coalesce(p_error_codes, '{}'), p_run_seconds)
            as b(task_id, token, error, retryable, error_code, run_seconds)
        join htdag.tasks t on t.task_id = b.task_id
                          and (t.claim_token = b.token or t.hedge_token = b.token)
                          and t.status in ('started', 'waiting')
        order by t.run_id, t.task_id
        for update of t
    loop
        v_recorded := htdag._fail_task(
            v_row.task_id, v_row.error, v_row.retryable,
            case when v_row.error_code = 'timed_out' then 'timed_out' else 'failed' end,
            v_row.error_code, v_row.token, v_row.run_seconds);
        if v_recorded then
            v_done := v_done || v_row.task_id;
        end if;
    end loop;
    return v_done;
end;
$$;
