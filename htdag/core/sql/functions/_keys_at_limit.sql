-- The concurrency keys whose started tasks have reached their limit (null when
-- none has): tasks of these keys are passed over by claim_tasks.
-- Reads only. Planner setting: enable_seqscan = on, undoing the off it would
-- inherit from claim_tasks: a scan of the few limits' rows is the plan, and
-- with seq scans off (before PostgreSQL 18, which marks the node disabled
-- instead) it is priced past jit_above_cost, so that every claim compiled it
-- (about 90 ms where JIT is available;
-- tests/integration/sql/planner_settings/test_claim_tasks_with_limits_is_priced_below_jit.py).
create or replace function htdag._keys_at_limit()
returns text[]
language plpgsql
set search_path = ''
set enable_seqscan = on
as $$
declare
    v_full text[];
begin
    select array_agg(l.key) into v_full from htdag.concurrency_limits l
    where l.max_running <= (select count(*) from htdag.tasks t
                            where t.concurrency_key = l.key and t.status = 'started');
    return v_full;
end;
$$;
