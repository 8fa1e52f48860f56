-- task.timed_out: a row trigger that fires only for a timed-out attempt, instead
-- of a statement trigger over every completion batch's attempts.
create or replace function htdag._attempt_event()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if htdag._task_events_on() then
        perform htdag._append_event(
            'task.timed_out', new.run_id,
            (select r.root_run_id from htdag.runs r where r.run_id = new.run_id),
            new.step_name,
            (select t.task_index from htdag.tasks t where t.task_id = new.task_id),
            jsonb_build_object('error', new.error), new.attempt, new.worker_id);
    end if;
    return null;
end;
$$;
