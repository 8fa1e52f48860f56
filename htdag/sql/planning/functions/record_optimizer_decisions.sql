-- Records the optimizer's decisions for a flow (and the run it started, or
-- none), each an object with the columns of htdag.optimizer_decisions, and
-- appends an optimizer.applied event to the run for each one applied (its
-- kind, task, key, value and reason; evidence stays in the table). Returns the
-- ids, in the order given.
create or replace function htdag.record_optimizer_decisions(
    p_flow_hash text, p_run_id uuid, p_decisions jsonb)
returns bigint[]
language plpgsql
set search_path = ''
as $$
declare
    v_ids bigint[];
    v_root uuid := (select r.root_run_id from htdag.runs r where r.run_id = p_run_id);
begin
    with added as (
        insert into htdag.optimizer_decisions (flow_hash, run_id, task, handler,
                                               concurrency_key, kind, level, applied, value,
                                               static, reason, evidence)
        select p_flow_hash, p_run_id, d ->> 'task', d ->> 'handler', d ->> 'concurrency_key',
               d ->> 'kind', d ->> 'level', (d ->> 'applied')::boolean, d -> 'value',
               d -> 'static', d ->> 'reason', coalesce(d -> 'evidence', '{}'::jsonb)
        from jsonb_array_elements(p_decisions) with ordinality as e(d, n)
        order by n
        returning decision_id
    )
    select coalesce(array_agg(a.decision_id order by a.decision_id), '{}') into v_ids
    from added a;
    perform htdag._append_event(
        'optimizer.applied', p_run_id, v_root, d.task, null,
        jsonb_build_object('decision_id', d.decision_id, 'kind', d.kind, 'task', d.task,
                           'concurrency_key', d.concurrency_key, 'value', d.value,
                           'reason', d.reason, 'flow_hash', p_flow_hash))
    from htdag.optimizer_decisions d
    where d.decision_id = any (v_ids) and d.applied
    order by d.decision_id;
    return v_ids;
end;
$$;
