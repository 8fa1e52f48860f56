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
