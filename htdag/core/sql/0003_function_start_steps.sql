-- Creates the tasks of steps whose dependencies are all complete. A map step
-- gets one task per element of its input array; an empty array completes it
-- at once with [] (which may start further steps).
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
                                     max_attempts, base_delay, max_delay, timeout)
            select p_run_id, v_step.step_name, i, v_step.handler, v_step.priority,
                   v_step.max_attempts, v_step.base_delay, v_step.max_delay, v_step.timeout
            from generate_series(0, v_count - 1) as i;
            perform pg_notify('htdag_tasks', '');
        end if;
    end loop;
end;
$$;
