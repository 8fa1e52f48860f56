-- run.started, run.completed, run.failed, run.cancelled.
create or replace function htdag._run_events()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        insert into htdag.events (kind, run_id, root_run_id, data)
        select 'run.started', n.run_id, n.root_run_id,
               jsonb_build_object('flow_hash', n.flow_hash, 'parent_run_id', n.parent_run_id)
        from new_runs n;
    else
        insert into htdag.events (kind, run_id, root_run_id, data)
        select 'run.' || n.status::text, n.run_id, n.root_run_id,
               case n.status when 'failed' then jsonb_build_object('error', n.error)
                             else '{}'::jsonb end
        from new_runs n join old_runs o on o.run_id = n.run_id
        where n.status <> o.status;
    end if;
    return null;
end;
$$;

create trigger runs_insert_events after insert on htdag.runs
    referencing new table as new_runs
    for each statement execute function htdag._run_events();
create trigger runs_update_events after update on htdag.runs
    referencing old table as old_runs new table as new_runs
    for each statement execute function htdag._run_events();
