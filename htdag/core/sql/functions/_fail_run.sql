-- Fails a running run: records which step failed, why, and the error's code
-- (runs.error_code: limit_reached when a limit stopped it, which its parent's
-- task does not retry), cancels everything still outstanding (never left
-- queued), cascades to child runs, and resumes (fails) the parent task waiting
-- for it. A run already ended is left alone.
-- Locks the run row first.
create or replace function htdag._fail_run(
    p_run_id uuid, p_step_name text, p_task_index int, p_message text,
    p_error_code htdag.error_code default null)
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
    set status = 'failed', failed_at = now(), error_code = p_error_code,
        error = jsonb_build_object('step', p_step_name, 'task_index', p_task_index,
                                   'message', p_message)
    where run_id = p_run_id;
    perform htdag._cancel_outstanding(p_run_id);
    perform pg_notify('htdag_run', p_run_id::text || ':failed');
    perform htdag._resume_parent_task(p_run_id);
end;
$$;
