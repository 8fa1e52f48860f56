-- A map task keeps its element of the input array (tasks.input), written when
-- the step starts: a claim used to take it from the whole array (the run input
-- or the dependency's output) for every task it claimed, reading and
-- decompressing the array each time, which made a big map quadratic. Tasks
-- created before this migration (input null) are still served from the array.

alter table htdag.tasks add column input jsonb;

-- _start_steps (0003), storing each map task's element and waking workers
-- through _notify_tasks (0034, 0037).
create or replace function htdag._start_steps(p_run_id uuid, p_step_names text[])
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_run htdag.runs;
    v_step htdag.steps;
    v_array jsonb;
    v_count int;
begin
    select * into v_run from htdag.runs where run_id = p_run_id;
    for v_step in
        select * from htdag.steps
        where flow_hash = v_run.flow_hash and step_name = any (p_step_names)
        order by step_index
    loop
        if v_step.kind = 'map' then
            if v_step.deps_count = 0 then
                v_array := v_run.input;
            else
                select ss.output into v_array
                from htdag.deps d
                join htdag.step_states ss on ss.run_id = p_run_id and ss.step_name = d.dep_name
                where d.flow_hash = v_run.flow_hash and d.step_name = v_step.step_name;
            end if;
            if jsonb_typeof(v_array) is distinct from 'array' then
                perform htdag._fail_run(p_run_id, v_step.step_name, null, format(
                    'map step %L needs an array as input, got %s; make %s return a list',
                    v_step.step_name, coalesce(jsonb_typeof(v_array), 'nothing'),
                    case when v_step.deps_count = 0 then 'the run input'
                         else 'its dependency' end));
                return;
            end if;
            v_count := jsonb_array_length(v_array);
        else
            v_count := 1;
        end if;

        update htdag.step_states
        set status = 'started', started_at = now(), remaining_tasks = v_count, initial_tasks = v_count
        where run_id = p_run_id and step_name = v_step.step_name;

        if v_count > 0 and not htdag._take_task_budget(v_run.root_run_id, v_count) then
            perform htdag._fail_run(p_run_id, v_step.step_name, null, format(
                'task budget exceeded: step %L needs %s tasks, over the maximum for its root '
                'run %s; raise max_tasks or plan a smaller graph',
                v_step.step_name, v_count, v_run.root_run_id));
            return;
        end if;
        if v_count = 0 then
            perform htdag._complete_step(p_run_id, v_step.step_name, '[]'::jsonb);
        else
            insert into htdag.tasks (run_id, step_name, task_index, handler, priority,
                                     max_attempts, base_delay, max_delay, timeout, input)
            select p_run_id, v_step.step_name, i, v_step.handler, v_step.priority,
                   v_step.max_attempts, v_step.base_delay, v_step.max_delay, v_step.timeout,
                   case when v_step.kind = 'map' then v_array -> i end
            from generate_series(0, v_count - 1) as i;
            perform htdag._notify_tasks();
        end if;
    end loop;
end;
$$;

-- claim_tasks (0009), reading the stored element.
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
           when c.input is not null then c.input
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
