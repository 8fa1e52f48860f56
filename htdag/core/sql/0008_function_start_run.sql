-- Starts a run of a stored flow: one round trip creates the run, its step
-- states and the tasks of its root steps.
create or replace function htdag.start_run(
    p_flow_hash text, p_input jsonb, p_parent_run_id uuid default null)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
    v_run_id uuid := gen_random_uuid();
    v_root_id uuid;
    v_steps int;
    v_roots text[];
begin
    select count(*)::int, array_agg(step_name) filter (where deps_count = 0)
    into v_steps, v_roots
    from htdag.steps where flow_hash = p_flow_hash;
    if v_steps = 0 then
        raise exception 'unknown flow %', p_flow_hash
            using errcode = 'HT001', hint = 'store the flow first (engine.start does this)';
    end if;
    if p_parent_run_id is not null then
        select root_run_id into v_root_id from htdag.runs where run_id = p_parent_run_id;
        if v_root_id is null then
            raise exception 'unknown run %', p_parent_run_id using errcode = 'HT002';
        end if;
    end if;

    insert into htdag.runs (run_id, flow_hash, input, remaining_steps, parent_run_id, root_run_id)
    values (v_run_id, p_flow_hash, p_input, v_steps, p_parent_run_id, coalesce(v_root_id, v_run_id));
    insert into htdag.step_states (run_id, flow_hash, step_name, remaining_deps)
    select v_run_id, p_flow_hash, step_name, deps_count
    from htdag.steps where flow_hash = p_flow_hash;

    perform htdag._start_steps(v_run_id, v_roots);
    return v_run_id;
end;
$$;
