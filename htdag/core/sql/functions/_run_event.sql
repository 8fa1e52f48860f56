-- Trigger (runs, after insert and after a change of status): run.started,
-- run.<status> (a failed run's event carries its error).
create or replace function htdag._run_event()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        perform htdag._append_event(
            'run.started', new.run_id, new.root_run_id, null, null,
            jsonb_build_object('flow_hash', new.flow_hash, 'parent_run_id', new.parent_run_id));
        return null;
    end if;
    perform htdag._append_event(
        'run.' || new.status::text, new.run_id, new.root_run_id, null, null,
        case new.status when 'failed' then jsonb_build_object('error', new.error)
                        else '{}'::jsonb end);
    return null;
end;
$$;
