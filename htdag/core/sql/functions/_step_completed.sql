-- What follows a step's completion: the run's count of remaining steps goes
-- down (the run completes at 0), and each dependent's count of remaining
-- dependencies; dependents that reach 0 start (_start_steps, with p_offer for
-- their tasks). Returns what it made ready.
-- Reads dependents by key, never every step of the run.
create or replace function htdag._step_completed(p_run_id uuid, p_step_name text,
                                                 p_flow_hash text,
                                                 p_offer htdag.task_offer default null)
returns htdag.made_ready
language plpgsql
set search_path = ''
as $$
declare
    v_nothing htdag.made_ready := row('{}', '{}');
    v_dependents text[];
    v_singles text[];
    v_remaining int;
    v_ready text[];
    v_started text[];
begin
    update htdag.runs set remaining_steps = remaining_steps - 1
    where run_id = p_run_id and status = 'running'
    returning remaining_steps into v_remaining;
    if v_remaining is null then
        return v_nothing;
    elsif v_remaining = 0 then
        perform htdag._complete_run(p_run_id);
        return v_nothing;
    end if;

    -- The dependents' names come from the dependency edges, then their rows by key
    -- (run_id, step_name): never a read of every step of the run, which statistics
    -- shaped by other flows would make the planner choose.
    select array_agg(d.step_name),
           array_agg(d.step_name) filter (
               where (select s.kind from htdag.steps s
                      where s.flow_hash = d.flow_hash and s.step_name = d.step_name) = 'single')
    into v_dependents, v_singles
    from htdag.deps d where d.flow_hash = p_flow_hash and d.dep_name = p_step_name;
    if v_dependents is null then
        return v_nothing;
    end if;
    with dependents as (
        update htdag.step_states ss
        -- (A single step whose count reaches 0 starts: the same test four times. No
        -- join with steps: its generic plan can read every step of the flow.)
        set remaining_deps = ss.remaining_deps - 1,
            status = case when ss.remaining_deps = 1 and ss.status = 'created'
                               and ss.step_name = any (v_singles) then 'started'
                          else ss.status end,
            started_at = case when ss.remaining_deps = 1 and ss.status = 'created'
                                   and ss.step_name = any (v_singles) then now()
                              else ss.started_at end,
            remaining_tasks = case when ss.remaining_deps = 1 and ss.status = 'created'
                                        and ss.step_name = any (v_singles) then 1
                                   else ss.remaining_tasks end,
            initial_tasks = case when ss.remaining_deps = 1 and ss.status = 'created'
                                      and ss.step_name = any (v_singles) then 1
                                 else ss.initial_tasks end
        where ss.run_id = p_run_id and ss.step_name = any (v_dependents)
        returning ss.step_name, ss.remaining_deps, ss.status
    )
    select array_agg(step_name) filter (where remaining_deps = 0),
           array_agg(step_name) filter (where remaining_deps = 0 and status = 'started')
    into v_ready, v_started
    from dependents;
    if v_ready is null then
        return v_nothing;
    end if;
    return htdag._start_steps(p_run_id, v_ready, coalesce(v_started, '{}'), p_offer);
end;
$$;
