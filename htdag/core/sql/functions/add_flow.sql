-- Stores a validated flow definition (its steps and dependencies) once per
-- content hash; storing it again changes nothing. Returns whether it was new.
create or replace function htdag.add_flow(p_flow_hash text, p_definition jsonb)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
    v_inserted int;
begin
    insert into htdag.flows (flow_hash, name, definition)
    values (p_flow_hash, p_definition ->> 'name', p_definition)
    on conflict (flow_hash) do nothing;
    get diagnostics v_inserted = row_count;
    if v_inserted = 0 then
        return false;
    end if;

    insert into htdag.steps (flow_hash, step_name, step_index, kind, handler, deps_count,
                             max_attempts, base_delay, max_delay, timeout, priority,
                             concurrency_key, fail_fast, retry_budget, hedge_after)
    select p_flow_hash, s ->> 'name', (ord - 1)::int, (s ->> 'kind')::htdag.step_kind, s ->> 'handler',
           jsonb_array_length(s -> 'depends_on'),
           (s -> 'options' ->> 'max_attempts')::int,
           (s -> 'options' ->> 'base_delay')::double precision,
           (s -> 'options' ->> 'max_delay')::double precision,
           (s -> 'options' ->> 'timeout')::double precision,
           (s -> 'options' ->> 'priority')::int,
           s -> 'options' ->> 'concurrency_key',
           (select array_agg(f) from jsonb_array_elements_text(s -> 'options' -> 'fail_fast') f),
           (s -> 'options' ->> 'retry_budget')::double precision,
           (s -> 'options' ->> 'hedge_after')::double precision
    from jsonb_array_elements(p_definition -> 'steps') with ordinality as e(s, ord);

    insert into htdag.deps (flow_hash, step_name, dep_name)
    select p_flow_hash, s ->> 'name', d
    from jsonb_array_elements(p_definition -> 'steps') as e(s),
         jsonb_array_elements_text(s -> 'depends_on') as dep(d);
    return true;
end;
$$;
