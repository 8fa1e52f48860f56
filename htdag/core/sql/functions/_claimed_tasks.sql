-- Started tasks with their input assembled, in the order given: what a claim
-- returns (claim_tasks, and the tasks an exchange took as it created them).
-- {"run": <run input>, <dep>: <dep output>, ...} for a single step, the stored
-- element (or, for tasks from before 0038, one element of the input array) for a
-- map step.
create or replace function htdag._claimed_tasks(p_task_ids bigint[])
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
    return query
    -- Every row below is reached by its full key, per task (the step, and each
    -- dependency's step state): never by reading all steps of the flow or of the
    -- run, which the planner would choose from statistics of small flows.
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
           when c.input is not null then c.input
           when s.deps_count = 0 then r.input -> c.task_index
           else (select (select ss.output from htdag.step_states ss
                         where ss.run_id = c.run_id and ss.step_name = d.dep_name)
                        -> c.task_index
                 from htdag.deps d
                 where d.flow_hash = r.flow_hash and d.step_name = c.step_name)
           end
    from unnest(p_task_ids) with ordinality as i(task_id, n)
    join htdag.tasks c on c.task_id = i.task_id
    join htdag.runs r on r.run_id = c.run_id
    cross join lateral (select s.kind, s.deps_count from htdag.steps s
                        where s.flow_hash = r.flow_hash and s.step_name = c.step_name
                        limit 1) s  -- (flow_hash, step_name) is its key: one row
    order by i.n;
end;
$$;
