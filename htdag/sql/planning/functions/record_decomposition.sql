-- Records a decomposition of a goal into a task graph and its
-- decomposition.completed event (announced). Returns the decomposition's id.
create or replace function htdag.record_decomposition(
    p_goal text, p_decomposer text, p_graph jsonb, p_duration_ms double precision,
    p_run_id uuid, p_parent_run_id uuid)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_id bigint;
begin
    insert into htdag.decompositions (goal, decomposer, graph, tasks, duration_ms, run_id,
                                      parent_run_id)
    values (p_goal, p_decomposer, p_graph, jsonb_array_length(p_graph -> 'tasks'),
            p_duration_ms, p_run_id, p_parent_run_id)
    returning decomposition_id into v_id;
    perform htdag._append_event(
        'decomposition.completed', p_run_id,
        (select root_run_id from htdag.runs where run_id = p_run_id), null, null,
        jsonb_build_object('decomposition_id', v_id, 'decomposer', p_decomposer,
                           'goal', left(p_goal, 200),
                           'tasks', jsonb_array_length(p_graph -> 'tasks'),
                           'duration_ms', round(p_duration_ms::numeric, 2),
                           'parent_run_id', p_parent_run_id));
    return v_id;
end;
$$;
