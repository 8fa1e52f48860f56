-- Heartbeat of a worker: extends the leases of the tasks it still holds and
-- returns their ids; a task missing from the answer was taken from it
-- (cancelled, or reclaimed after its lease ran out, or its hedged twin came
-- first) and must be abandoned. Both executions of a hedged task extend it.
-- Each heartbeat also marks peers that stopped heartbeating as lost.
-- Locks task rows in task_id order.
create or replace function htdag.extend_leases(
    p_worker_id uuid, p_task_ids bigint[], p_tokens uuid[], p_lease_seconds double precision)
returns bigint[]
language plpgsql
set search_path = ''
as $$
declare
    v_held bigint[];
begin
    update htdag.workers
    set last_heartbeat_at = now(), lease_seconds = p_lease_seconds, lost_at = null
    where worker_id = p_worker_id;
    perform htdag._mark_lost_workers();
    -- Task rows are locked in task_id order, as every transition does (see cancel_run).
    perform 1 from htdag.tasks where task_id = any (p_task_ids) order by task_id for update;
    with held as (
        update htdag.tasks t
        set lease_expires_at = now() + make_interval(secs => p_lease_seconds)
        from unnest(p_task_ids, p_tokens) as b(task_id, token)
        where t.task_id = b.task_id and t.status = 'started'
          and (t.claim_token = b.token or t.hedge_token = b.token)
        returning t.task_id
    )
    select coalesce(array_agg(task_id), '{}') into v_held from held;
    return v_held;
end;
$$;
