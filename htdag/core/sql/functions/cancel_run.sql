-- Cancels a running run, its outstanding tasks and its child runs. Cancelling
-- a run that already ended changes nothing. Returns the run's status.
-- Locks the run's outstanding tasks in task_id order before the run row, as the
-- worker's transitions do: the other way round deadlocks with a batch that
-- completes tasks of the same run.
create or replace function htdag.cancel_run(p_run_id uuid)
returns htdag.run_status
language plpgsql
set search_path = ''
as $$
declare
    v_status htdag.run_status;
begin
    -- Lock the run's outstanding tasks before the run row, in task_id order, as
    -- the worker's transitions lock the tasks they touch: the other way round,
    -- a cancellation deadlocked with a batch completing tasks of the same run.
    perform 1 from htdag.tasks
    where run_id = p_run_id and status in ('queued', 'started')
    order by task_id
    for update;
    update htdag.runs set status = 'cancelled', cancelled_at = now()
    where run_id = p_run_id and status = 'running'
    returning status into v_status;
    if v_status is null then
        select status into v_status from htdag.runs where run_id = p_run_id;
        if v_status is null then
            raise exception 'unknown run %', p_run_id using errcode = 'HT002';
        end if;
        return v_status;
    end if;
    perform htdag._cancel_outstanding(p_run_id);
    perform pg_notify('htdag_run', p_run_id::text || ':cancelled');
    perform htdag._resume_parent_task(p_run_id);
    return v_status;
end;
$$;
