-- Records a decomposition of a goal into a task graph, with what it cost (its
-- attempts, each answer with the validator's errors; tokens, cost and model
-- time; the model: null for decomposers without a model), and its
-- decomposition.completed event (announced), which carries the same figures
-- without the answers. Returns the decomposition's id.
create or replace function htdag.record_decomposition(
    p_goal text, p_decomposer text, p_graph jsonb, p_duration_ms double precision,
    p_run_id uuid, p_parent_run_id uuid, p_attempt_log jsonb, p_model text,
    p_prompt_tokens int, p_completion_tokens int, p_cost_usd double precision,
    p_model_ms double precision)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_id bigint;
    v_log jsonb := coalesce(p_attempt_log, '[]');
    v_attempts int := greatest(jsonb_array_length(coalesce(p_attempt_log, '[]')), 1);
begin
    insert into htdag.decompositions (goal, decomposer, graph, tasks, duration_ms, run_id,
                                      parent_run_id, attempts, attempt_log, model,
                                      prompt_tokens, completion_tokens, cost_usd, model_ms)
    values (p_goal, p_decomposer, p_graph, jsonb_array_length(p_graph -> 'tasks'),
            p_duration_ms, p_run_id, p_parent_run_id, v_attempts, v_log, p_model,
            p_prompt_tokens, p_completion_tokens, p_cost_usd, p_model_ms)
    returning decomposition_id into v_id;
    perform htdag._append_event(
        'decomposition.completed', p_run_id,
        (select root_run_id from htdag.runs where run_id = p_run_id), null, null,
        jsonb_build_object('decomposition_id', v_id, 'decomposer', p_decomposer,
                           'goal', left(p_goal, 200),
                           'tasks', jsonb_array_length(p_graph -> 'tasks'),
                           'duration_ms', round(p_duration_ms::numeric, 2),
                           'parent_run_id', p_parent_run_id)
        || jsonb_strip_nulls(jsonb_build_object(
               'attempts', case when p_model is not null then v_attempts end,
               'model', p_model, 'prompt_tokens', p_prompt_tokens,
               'completion_tokens', p_completion_tokens, 'cost_usd', p_cost_usd,
               'model_ms', round(p_model_ms::numeric, 2))));
    return v_id;
end;
$$;
