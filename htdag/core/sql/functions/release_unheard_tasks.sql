-- Tasks pushed to a worker that it does not know of (its LISTEN connection was
-- down when they came) go back to the queue; the attempt does not count. A
-- hedged execution pushed to it and unheard is dropped: the first one goes on.
-- p_pushes_seen: how many pushed tasks the worker has heard of, all told (what
-- was pushed beyond that is released now, so it is no longer owed).
-- Locks the worker's row, then its tasks in task_id order.
-- Planner settings: enable_seqscan = off and plan_cache_mode = force_custom_plan
-- (it runs rarely: a plan per call costs nothing that matters), so that it reads
-- tasks_lease_idx, not a plan cached while the tables were small
-- (tests/integration/sql/planner_settings/test_release_unheard_tasks_reads_the_lease_index_after_a_burst.py
-- shows the reads of every task that either setting alone leaves).
create or replace function htdag.release_unheard_tasks(
    p_worker_id uuid, p_known bigint[], p_pushes_seen bigint default null)
returns bigint[]
language plpgsql
set search_path = ''
set enable_seqscan = off
set plan_cache_mode = force_custom_plan
as $$
declare
    v_released bigint[];
begin
    with unheard as (
        select t.task_id from htdag.tasks t
        where t.lease_expires_at is not null and t.status = 'started'
          and t.worker_id = p_worker_id and t.task_id <> all (p_known)
        order by t.task_id
        for update
    ), released as (
        update htdag.tasks t
        set status = 'queued', attempts_count = t.attempts_count - 1, claim_token = null,
            lease_expires_at = null, worker_id = null, available_at = now()
        from unheard u
        where t.task_id = u.task_id
        returning t.task_id
    )
    select coalesce(array_agg(task_id), '{}') into v_released from released;
    -- hedged executions pushed to it (hedge_straggler) unheard: the first goes on
    update htdag.tasks t
    set hedge_token = null, hedge_worker_id = null, hedge_started_at = null
    where t.hedge_worker_id = p_worker_id and t.hedge_token is not null
      and t.status = 'started' and t.task_id <> all (p_known);
    if cardinality(v_released) > 0 then
        perform pg_notify('htdag_tasks', '');
    end if;
    if p_pushes_seen is not null then
        update htdag.workers set tasks_pushed = p_pushes_seen
        where worker_id = p_worker_id and tasks_pushed <> p_pushes_seen;
    end if;
    return v_released;
end;
$$;
