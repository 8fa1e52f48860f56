-- Claims up to p_limit ready tasks (queued, available, of one of p_handlers or
-- of any when null) for a worker: each gets a lease, a claim token and an
-- attempt; returns them with their input (_claimed_tasks), in claim order
-- (priority, then lower task_index, then available_at). Reaps expired leases
-- first. Never claims a task younger than this transaction (one its own
-- statements made ready is the exchange's to take). Tasks of a concurrency key
-- at its limit are passed over, and a key's tasks beyond its limit are left
-- queued (_within_concurrency_limits): the limit holds over every worker.
-- Room the queue leaves goes to hedges (_claim_hedges): second executions of
-- stragglers of steps with hedge_after, returned with their hedge token. A claim that finds nothing
-- writes nothing: the task events trigger would run on empty transition tables.
-- Locks: tasks with skip locked, in claim order.
-- Planner settings: enable_seqscan and enable_bitmapscan off, so that a claim
-- walks tasks_queued_idx in order and stops after p_limit rows, with a plan
-- cached while the queue was small as with a claim of many tasks from a long one
-- (tests/integration/sql/planner_settings/test_claim_tasks_walks_the_ready_index_after_a_burst.py
-- shows the seq scan, or bitmap scan, and sort of the whole queue they prevent).
create or replace function htdag.claim_tasks(
    p_worker_id uuid, p_limit int, p_handlers text[], p_lease_seconds double precision)
returns table (task_id bigint, claim_token uuid, run_id uuid, step_name text, task_index int,
               handler text, attempt int, timeout double precision, input jsonb,
               hedge_after double precision)
language plpgsql
set search_path = ''
set enable_seqscan = off
set enable_bitmapscan = off
as $$
declare
    v_ids bigint[];
    v_limited boolean;  -- some key has a limit
    v_hedges bigint[];
    v_full text[];  -- keys at their limit
begin
    perform htdag._reap_expired_tasks();
    if p_limit <= 0 then
        return;
    end if;
    v_limited := exists (select 1 from htdag.concurrency_limits);
    if v_limited then
        v_full := htdag._keys_at_limit();
    end if;
    select array_agg(p.task_id) into v_ids from (
        select t.task_id from htdag.tasks t
        where t.status = 'queued' and t.available_at <= now()
          and (p_handlers is null or t.handler = any (p_handlers))
          and (v_full is null or t.concurrency_key is null or t.concurrency_key <> all (v_full))
          and age(t.xmin) >= 0
        order by t.priority desc, t.task_index, t.available_at
        limit p_limit
        for update skip locked) p;
    if v_limited then
        v_ids := htdag._within_concurrency_limits(v_ids);
    end if;
    v_ids := coalesce(v_ids, '{}');
    if cardinality(v_ids) < p_limit
       and exists (select 1 from htdag.tasks t
                   where t.hedge_after is not null and t.hedge_token is null
                     and t.status = 'started') then
        v_hedges := htdag._claim_hedges(p_worker_id, p_limit - cardinality(v_ids), p_handlers);
    end if;
    if cardinality(v_hedges) > 0 then
        return query select * from htdag._claimed_tasks(v_hedges, true);
    end if;
    if cardinality(v_ids) = 0 then
        return;
    end if;
    with claimed as (
        update htdag.tasks t
        set status = 'started', started_at = now(), attempts_count = t.attempts_count + 1,
            claim_token = gen_random_uuid(), worker_id = p_worker_id,
            lease_expires_at = now() + make_interval(secs => p_lease_seconds)
        where t.task_id = any (v_ids)
        returning t.task_id, t.priority, t.task_index, t.available_at
    )
    select array_agg(c.task_id order by c.priority desc, c.task_index, c.available_at, c.task_id)
    into v_ids from claimed c;
    return query select * from htdag._claimed_tasks(v_ids);
end;
$$;
