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
