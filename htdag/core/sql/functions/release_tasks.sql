-- A worker shutting down gives back tasks it will not finish: they are queued
-- again and the attempt does not count against max_attempts. Stale tokens
-- change nothing. A hedged execution given back leaves the first one running.
-- Returns the ids released.
-- Locks task rows in task_id order.
create or replace function htdag.release_tasks(p_task_ids bigint[], p_tokens uuid[])
returns bigint[]
language plpgsql
set search_path = ''
as $$
declare
    v_released bigint[];
begin
    -- Task rows are locked in task_id order, as every transition does (see cancel_run).
    perform 1 from htdag.tasks where task_id = any (p_task_ids) order by task_id for update;
    with released as (
        update htdag.tasks t
        set status = 'queued', attempts_count = t.attempts_count - 1, claim_token = null,
            lease_expires_at = null, worker_id = null, available_at = now(),
            hedge_token = null, hedge_worker_id = null, hedge_started_at = null
        from unnest(p_task_ids, p_tokens) as b(task_id, token)
        where t.task_id = b.task_id and t.claim_token = b.token and t.status = 'started'
        returning t.task_id
    ), unhedged as (
        -- a hedged execution given back: the first goes on, and may be hedged again
        update htdag.tasks t
        set hedge_token = null, hedge_worker_id = null, hedge_started_at = null
        from unnest(p_task_ids, p_tokens) as b(task_id, token)
        where t.task_id = b.task_id and t.hedge_token = b.token and t.status = 'started'
        returning t.task_id
    )
    select coalesce(array_agg(task_id), '{}') into v_released
    from (select task_id from released union all select task_id from unhedged) r;
    if cardinality(v_released) > 0 then
        perform pg_notify('htdag_tasks', '');
    end if;
    return v_released;
end;
$$;
