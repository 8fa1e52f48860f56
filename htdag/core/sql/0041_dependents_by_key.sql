-- _step_completed (0038) with the dependents read from their edges first and
-- then updated by key (run_id, step_name), as 0004 did: 0038's one-statement
-- update joined the edges to the run's step rows, and its plan read every step
-- row of the run (a 100-step chain: 100 rows per completed step).
create or replace function htdag._step_completed(
    p_run_id uuid, p_step_name text, p_flow_hash text)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_remaining int;
    v_dependents text[];
    v_ready text[];
begin
    update htdag.runs set remaining_steps = remaining_steps - 1
    where run_id = p_run_id and status = 'running'
    returning remaining_steps into v_remaining;
    if v_remaining is null then
        return;
    elsif v_remaining = 0 then
        perform htdag._complete_run(p_run_id);
        return;
    end if;
    select array_agg(d.step_name) into v_dependents
    from htdag.deps d where d.flow_hash = p_flow_hash and d.dep_name = p_step_name;
    if v_dependents is null then
        return;
    end if;
    with dependents as (
        update htdag.step_states ss
        set remaining_deps = ss.remaining_deps - 1
        where ss.run_id = p_run_id and ss.step_name = any (v_dependents)
        returning ss.step_name, ss.remaining_deps
    )
    select array_agg(step_name) filter (where remaining_deps = 0) into v_ready
    from dependents;
    if v_ready is not null then
        perform htdag._start_steps(p_run_id, v_ready);
    end if;
end;
$$;
