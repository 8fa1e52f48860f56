-- Starts a run of a stored flow: one round trip creates the run, its step
-- states and the tasks of its root steps (_start_steps), or raises HT001 for an
-- unknown flow. A child run (a subgoal) names its parent run (HT002 if unknown)
-- and the task waiting for it; its depth is checked against the root run's
-- max_depth (HT003; p_max_depth for a root run, which keeps it, and for a child
-- of a root run without one), and its tasks count against the root run's task
-- budget. When its root tasks
-- surely fit one NOTIFY (_fits_a_push) and a worker is idle, those that fit its
-- slots are created started for it and pushed to it (_send_push): the one place
-- a push is made; the rest are queued and announced. Returns the run's id.
create or replace function htdag.start_run(
    p_flow_hash text, p_input jsonb, p_parent_run_id uuid default null,
    p_parent_task_id bigint default null, p_max_depth int default 10,
    p_max_tasks int default null)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
    v_run_id uuid := gen_random_uuid();
    v_parent htdag.runs;
    v_max_depth int := p_max_depth;
    v_steps int;
    v_roots text[];
    v_offer htdag.task_offer;
    v_made htdag.made_ready;
begin
    select count(*)::int, array_agg(step_name) filter (where deps_count = 0)
    into v_steps, v_roots
    from htdag.steps where flow_hash = p_flow_hash;
    if v_steps = 0 then
        raise exception 'unknown flow %', p_flow_hash
            using errcode = 'HT001', hint = 'store the flow first (engine.start does this)';
    end if;
    if p_parent_run_id is not null then
        select * into v_parent from htdag.runs where run_id = p_parent_run_id;
        if v_parent.run_id is null then
            raise exception 'unknown run %', p_parent_run_id using errcode = 'HT002';
        end if;
        select coalesce(r.max_depth, p_max_depth) into v_max_depth
        from htdag.runs r where r.run_id = v_parent.root_run_id;
        if v_parent.depth + 1 > v_max_depth then
            raise exception 'subgoal depth limit reached: run % is at depth %, the limit is %',
                p_parent_run_id, v_parent.depth, v_max_depth
                using errcode = 'HT003',
                      hint = 'raise max_depth, or plan this goal without nesting subgoals';
        end if;
    end if;

    insert into htdag.runs (run_id, flow_hash, input, remaining_steps, parent_run_id,
                            parent_task_id, root_run_id, depth, max_tasks, max_depth)
    values (v_run_id, p_flow_hash, p_input, v_steps, p_parent_run_id, p_parent_task_id,
            coalesce(v_parent.root_run_id, v_run_id), coalesce(v_parent.depth + 1, 0),
            case when p_parent_run_id is null then p_max_tasks end,
            case when p_parent_run_id is null then p_max_depth end);
    insert into htdag.step_states (run_id, flow_hash, step_name, remaining_deps)
    select v_run_id, p_flow_hash, step_name, deps_count
    from htdag.steps where flow_hash = p_flow_hash;

    if htdag._fits_a_push(p_flow_hash, v_roots, p_input) then
        v_offer := htdag._idle_worker_offer();
    end if;
    v_made := htdag._start_steps(v_run_id, v_roots, '{}', v_offer);
    if cardinality(v_made.taken) > 0 then
        perform htdag._send_push(v_offer.worker_id,
                                 (select jsonb_agg(to_jsonb(c))
                                  from htdag._claimed_tasks(v_made.taken) c),
                                 cardinality(v_made.taken));
    end if;
    if v_offer.worker_id is not null and cardinality(v_made.queued_handlers) > 0 then
        perform pg_notify('htdag_tasks', '');  -- every worker: the pushed one too
    end if;
    return v_run_id;
end;
$$;
