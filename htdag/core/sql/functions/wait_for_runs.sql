-- Tasks whose handlers started child runs give up their worker slot and wait:
-- each completes with its child's output when the child completes (see
-- _resume_parent_task). A child that already finished resumes its parent now.
-- Stale tokens change nothing. Locks task rows in task_id order.
create or replace function htdag.wait_for_runs(
    p_task_ids bigint[], p_tokens uuid[], p_child_run_ids uuid[])
returns bigint[]
language plpgsql
set search_path = ''
as $$
declare
    v_waiting bigint[];
    v_child uuid;
begin
    -- Task rows are locked in task_id order, as every transition does (see cancel_run).
    perform 1 from htdag.tasks where task_id = any (p_task_ids) order by task_id for update;
    with waiting as (
        update htdag.tasks t
        set status = 'waiting', lease_expires_at = null, waiting_for_run_id = b.child
        from unnest(p_task_ids, p_tokens, p_child_run_ids) as b(task_id, token, child)
        where t.task_id = b.task_id and t.claim_token = b.token and t.status = 'started'
        returning t.task_id, b.child
    )
    select coalesce(array_agg(task_id), '{}') into v_waiting from waiting;
    for v_child in
        select r.run_id from htdag.runs r
        where r.run_id = any (p_child_run_ids) and r.status <> 'running'
          and r.parent_task_id = any (v_waiting)
    loop
        perform htdag._resume_parent_task(v_child);
    end loop;
    return v_waiting;
end;
$$;
