-- After events are appended, one NOTIFY per statement wakes listeners with a
-- small payload ("<last event id>:<count>"); they read the rows themselves.
-- Outputs never travel in NOTIFY (its payload stops at 8,000 bytes).
create or replace function htdag._notify_events()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
    v_last bigint;
    v_count int;
begin
    select max(event_id), count(*) into v_last, v_count from new_events;
    if v_count > 0 then
        perform pg_notify('htdag_events', v_last::text || ':' || v_count::text);
    end if;
    return null;
end;
$$;

create trigger events_notify after insert on htdag.events
    referencing new table as new_events
    for each statement execute function htdag._notify_events();
