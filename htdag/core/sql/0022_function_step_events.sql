-- step.started, step.completed, step.failed (a cancelled step's run says it).
-- A statement may change many step rows (complete_tasks: one per step of its
-- batch): see _task_events (0023) for how old and new rows are paired.
create or replace function htdag._step_events()
returns trigger
language plpgsql
set search_path = ''
set enable_nestloop = off
set enable_hashjoin = on
as $$
begin
    insert into htdag.events (kind, run_id, root_run_id, step_name, data)
    select 'step.' || n.status::text, n.run_id,
           (select r.root_run_id from htdag.runs r where r.run_id = n.run_id), n.step_name,
           case n.status
               when 'started' then jsonb_build_object('tasks', n.initial_tasks)
               when 'failed' then jsonb_build_object('error', n.error)
               else '{}'::jsonb end
    from new_steps n
    join old_steps o on o.run_id = n.run_id and o.step_name = n.step_name
    where n.status <> o.status and n.status in ('started', 'completed', 'failed')
    order by n.run_id, n.step_name;
    return null;
end;
$$;

create trigger step_states_update_events after update on htdag.step_states
    referencing old table as old_steps new table as new_steps
    for each statement execute function htdag._step_events();
