-- Trigger (step_states, after a change of status to started, completed or
-- failed): step.<status>. A cancelled step's run says it.
create or replace function htdag._step_event()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    perform htdag._append_event(
        'step.' || new.status::text, new.run_id,
        (select r.root_run_id from htdag.runs r where r.run_id = new.run_id), new.step_name,
        null,
        case new.status when 'started' then jsonb_build_object('tasks', new.initial_tasks)
                        when 'failed' then jsonb_build_object('error', new.error)
                        else '{}'::jsonb end);
    return null;
end;
$$;
