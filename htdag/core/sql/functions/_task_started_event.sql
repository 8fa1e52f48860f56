-- Trigger (tasks, after insert of a started task): task.started for a task
-- created started (taken by an exchange or pushed as it was created).
create or replace function htdag._task_started_event()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if htdag._task_events_on() then
        perform htdag._append_event(
            'task.started', new.run_id, new.root_run_id, new.step_name, new.task_index,
            null, new.attempts_count, new.worker_id);
    end if;
    return null;
end;
$$;
