-- Started tasks with their input assembled, in the order of p_task_ids: what a
-- claim returns (claim_tasks, pushes, and the tasks an exchange took as it
-- created them), with their claim token and their step's hedge_after (when the
-- worker asks for a hedge), or with p_hedges their hedge token (and no
-- hedge_after: a hedge is not hedged). A single step's input is
-- {"run": <run input>, <dep>: <dep output>, ...}; a map task's is its element.
-- Reads only; every row is reached by its full key.
-- Planner settings: plan_cache_mode = force_generic_plan plans it once per
-- session (without it a chain step's server work is about 1.4 times as much:
-- benchmarks/compare_versions.py --work chain), and enable_seqscan = off keeps
-- that plan, made while the tables were small, on the steps' key
-- (tests/integration/sql/planner_settings/test_claimed_tasks_reads_each_step_by_key_after_many_flows.py
-- shows the scan of every flow's steps it prevents).
create or replace function htdag._claimed_tasks(p_task_ids bigint[],
                                                p_hedges boolean default false)
returns table (task_id bigint, claim_token uuid, run_id uuid, step_name text, task_index int,
               handler text, attempt int, timeout double precision, input jsonb,
               hedge_after double precision)
language plpgsql
set search_path = ''
set enable_seqscan = off
set plan_cache_mode = force_generic_plan
as $$
begin
    return query
    -- Every row below is reached by its full key, per task (the step, and each
    -- dependency's step state): never by reading all steps of the flow or of the
    -- run, which the planner would choose from statistics of small flows.
    select c.task_id, case when p_hedges then c.hedge_token else c.claim_token end,
           c.run_id, c.step_name, c.task_index, c.handler,
           c.attempts_count, c.timeout,
           case when s.kind = 'single' then
               jsonb_build_object('run', r.input) || coalesce(
                   (select jsonb_object_agg(d.dep_name,
                                            (select ss.output from htdag.step_states ss
                                             where ss.run_id = c.run_id
                                               and ss.step_name = d.dep_name))
                    from htdag.deps d
                    where d.flow_hash = r.flow_hash and d.step_name = c.step_name), '{}'::jsonb)
           else c.input  -- a map task's element, stored as it was created
           end,
           case when p_hedges then null else c.hedge_after end
    from unnest(p_task_ids) with ordinality as i(task_id, n)
    join htdag.tasks c on c.task_id = i.task_id
    join htdag.runs r on r.run_id = c.run_id
    cross join lateral (select s.kind from htdag.steps s
                        where s.flow_hash = r.flow_hash and s.step_name = c.step_name
                        limit 1) s  -- (flow_hash, step_name) is its key: one row
    order by i.n;
end;
$$;
