-- Trigger (attempts, after insert of a timed-out or lost attempt): task.timed_out
-- (the step's timeout ran out) or task.lost (its lease expired: the worker died
-- or went silent), before the task.retrying or task.failed that follows.
-- A row trigger with a WHEN clause, so completion batches pay nothing for it.
create or replace function htdag._attempt_event()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if htdag._task_events_on() then
        perform htdag._append_event(
            'task.' || new.outcome, new.run_id,
            (select r.root_run_id from htdag.runs r where r.run_id = new.run_id),
            new.step_name,
            (select t.task_index from htdag.tasks t where t.task_id = new.task_id),
            jsonb_build_object('error', new.error), new.attempt, new.worker_id);
    end if;
    return null;
end;
$$;
