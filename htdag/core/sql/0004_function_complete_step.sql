-- Marks a step complete, then either completes the run or starts the
-- dependents whose last dependency this was.
create or replace function htdag._complete_step(p_run_id uuid, p_step_name text, p_output jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_flow_hash text;
    v_dependents text[];
    v_remaining int;
    v_ready text[];
begin
    update htdag.step_states
    set status = 'completed', output = p_output, remaining_tasks = 0, completed_at = now()
    where run_id = p_run_id and step_name = p_step_name and status = 'started'
    returning flow_hash into v_flow_hash;
    if not found then
        return;
    end if;

    update htdag.runs set remaining_steps = remaining_steps - 1
    where run_id = p_run_id and status = 'running'
    returning remaining_steps into v_remaining;
    if v_remaining is null then
        return;
    elsif v_remaining = 0 then
        perform htdag._complete_run(p_run_id);
        return;
    end if;

    -- The dependents' names come from the dependency edges, then their rows by key
    -- (run_id, step_name): never a read of every step of the run, which statistics
    -- shaped by other flows would make the planner choose.
    select array_agg(d.step_name) into v_dependents
    from htdag.deps d where d.flow_hash = v_flow_hash and d.dep_name = p_step_name;
    if v_dependents is null then
        return;
    end if;
    with dependents as (
        update htdag.step_states ss
        set remaining_deps = ss.remaining_deps - 1
        where ss.run_id = p_run_id and ss.step_name = any (v_dependents)
        returning ss.step_name, ss.remaining_deps
    )
    select array_agg(step_name) filter (where remaining_deps = 0) into v_ready from dependents;
    if v_ready is not null then
        perform htdag._start_steps(p_run_id, v_ready);
    end if;
end;
$$;
