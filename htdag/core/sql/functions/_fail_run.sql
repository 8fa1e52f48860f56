-- Fails a run: records which step failed and why, cancels everything still
-- outstanding (never left queued), cascades to child runs, tells workers.
create or replace function htdag._fail_run(
    p_run_id uuid, p_step_name text, p_task_index int, p_message text)
returns void
language plpgsql
set search_path = ''
as $$
begin
    -- The step fails before the run, so its event comes first (a listener that
    -- stops at run.failed has seen why).
    perform 1 from htdag.runs where run_id = p_run_id and status = 'running' for update;
    if not found then
        return;
    end if;
    update htdag.step_states
    set status = 'failed', failed_at = now(), error = p_message
    where run_id = p_run_id and step_name = p_step_name and status in ('created', 'started');
    update htdag.runs
    set status = 'failed', failed_at = now(),
        error = jsonb_build_object('step', p_step_name, 'task_index', p_task_index,
                                   'message', p_message)
    where run_id = p_run_id;
    perform htdag._cancel_outstanding(p_run_id);
    perform pg_notify('htdag_run', p_run_id::text || ':failed');
    perform htdag._resume_parent_task(p_run_id);
end;
$$;
