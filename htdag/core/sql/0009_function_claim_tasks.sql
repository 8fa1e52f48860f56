-- Claims up to p_limit ready tasks for a worker and returns them with their
-- input assembled: {"run": <run input>, <dep>: <dep output>, ...} for a single
-- step, one element of the input array for a map step. Expired leases are
-- reaped first, so a dead worker's tasks come back.
--
-- Planner settings, for the duration of the call (and of the reaper it calls): a
-- claim must walk the ready index in order and stop after p_limit rows, and reach
-- everything else by key. Statistics lag behind a queue (a burst of new tasks, the
-- dead entries each claim leaves until the next vacuum, plans cached while the
-- tables were small), and with them the planner reads every queued row through a
-- bitmap or sequential scan and sorts them, on every claim: O(queue), not O(p_limit).
create or replace function htdag.claim_tasks(
    p_worker_id uuid, p_limit int, p_handlers text[], p_lease_seconds double precision)
returns table (task_id bigint, claim_token uuid, run_id uuid, step_name text, task_index int,
               handler text, attempt int, timeout double precision, input jsonb)
language plpgsql
set search_path = ''
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set plan_cache_mode = force_generic_plan
as $$
begin
    perform htdag._reap_expired_tasks();
    if p_limit <= 0 then
        return;
    end if;
    return query
    with picked as (
        select t.task_id from htdag.tasks t
        where t.status = 'queued' and t.available_at <= now()
          and (p_handlers is null or t.handler = any (p_handlers))
        order by t.priority desc, t.task_index, t.available_at
        limit p_limit
        for update skip locked
    ), claimed as (
        update htdag.tasks t
        set status = 'started', started_at = now(), attempts_count = t.attempts_count + 1,
            claim_token = gen_random_uuid(), worker_id = p_worker_id,
            lease_expires_at = now() + make_interval(secs => p_lease_seconds)
        from picked
        where t.task_id = picked.task_id
        returning t.*
    )
    -- Every row below is reached by its full key, per claimed task (the step, and
    -- each dependency's step state): never by reading all steps of the flow or of
    -- the run, which the planner would choose from statistics of small flows.
    select c.task_id, c.claim_token, c.run_id, c.step_name, c.task_index, c.handler,
           c.attempts_count, c.timeout,
           case when s.kind = 'single' then
               jsonb_build_object('run', r.input) || coalesce(
                   (select jsonb_object_agg(d.dep_name,
                                            (select ss.output from htdag.step_states ss
                                             where ss.run_id = c.run_id
                                               and ss.step_name = d.dep_name))
                    from htdag.deps d
                    where d.flow_hash = r.flow_hash and d.step_name = c.step_name), '{}'::jsonb)
           when s.deps_count = 0 then r.input -> c.task_index
           else (select (select ss.output from htdag.step_states ss
                         where ss.run_id = c.run_id and ss.step_name = d.dep_name)
                        -> c.task_index
                 from htdag.deps d
                 where d.flow_hash = r.flow_hash and d.step_name = c.step_name)
           end
    from claimed c
    join htdag.runs r on r.run_id = c.run_id
    cross join lateral (select s.kind, s.deps_count from htdag.steps s
                        where s.flow_hash = r.flow_hash and s.step_name = c.step_name
                        limit 1) s;  -- (flow_hash, step_name) is its key: one row
end;
$$;
