-- Cancels a finished run's queued, started and waiting tasks and its unfinished
-- steps, then cancels its still-running child runs (recursively).
-- Invariant: a run that ended leaves no task that a worker could still claim.
create or replace function htdag._cancel_outstanding(p_run_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_child uuid;
begin
    update htdag.tasks
    set status = 'cancelled', cancelled_at = now(), claim_token = null, lease_expires_at = null
    where run_id = p_run_id and status in ('queued', 'started', 'waiting');
    update htdag.step_states
    set status = 'cancelled', cancelled_at = now()
    where run_id = p_run_id and status in ('created', 'started');
    perform pg_notify('htdag_cancel', p_run_id::text);
    for v_child in
        select run_id from htdag.runs
        where parent_run_id = p_run_id and status = 'running' order by run_id
    loop
        perform htdag.cancel_run(v_child);
    end loop;
end;
$$;
