-- Creates a started step's p_count tasks (a map task's input is its element of
-- p_elements; a single task's is assembled when it is claimed). As many as fit
-- p_offer's room are created started for its worker, each with a lease, a claim
-- token and its first attempt, when it runs their handler, nothing is queued
-- before them (the claim's order decides otherwise) and the step has no
-- concurrency key (the claim counts a key's tasks); the rest are queued.
-- Returns the ids of the tasks created started, in creation order ('{}' for none).
create or replace function htdag._create_tasks(p_run htdag.runs, p_step htdag.steps,
                                               p_elements jsonb, p_count int,
                                               p_offer htdag.task_offer)
returns bigint[]
language plpgsql
set search_path = ''
as $$
declare
    v_take int := 0;  -- tasks 0 .. v_take - 1 are created started
    v_ids bigint[];
begin
    if p_offer.room > 0 and p_step.concurrency_key is null
       and (p_offer.handlers is null or p_step.handler = any (p_offer.handlers))
       and not exists (select 1 from htdag.tasks t where t.status = 'queued') then
        v_take := least(p_count, p_offer.room);
    end if;
    with created as (
        insert into htdag.tasks (run_id, root_run_id, step_name, task_index, handler,
                                 priority, max_attempts, base_delay, max_delay, timeout,
                                 input, status, attempts_count, started_at, claim_token,
                                 worker_id, lease_expires_at, concurrency_key, hedge_after)
        select p_run.run_id, p_run.root_run_id, p_step.step_name, i, p_step.handler,
               p_step.priority, p_step.max_attempts, p_step.base_delay, p_step.max_delay,
               p_step.timeout,
               case when p_step.kind = 'map' then p_elements -> i end,
               case when i < v_take then 'started' else 'queued' end::htdag.task_status,
               case when i < v_take then 1 else 0 end,
               case when i < v_take then now() end,
               case when i < v_take then gen_random_uuid() end,
               case when i < v_take then p_offer.worker_id end,
               case when i < v_take
                    then now() + make_interval(secs => p_offer.lease_seconds) end,
               p_step.concurrency_key, p_step.hedge_after
        from generate_series(0, p_count - 1) as i
        returning task_id, status
    )
    select coalesce(array_agg(task_id order by task_id) filter (where status = 'started'), '{}')
    into v_ids from created;
    return v_ids;
end;
$$;
