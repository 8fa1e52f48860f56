-- Whether task events are recorded (htdag.settings 'task_events', default on).
-- In PL/pgSQL, which keeps its plans for the session: a LANGUAGE sql function
-- with a SET clause is parsed and planned at every call (before PostgreSQL 18),
-- and this one runs on every transition.
create or replace function htdag._task_events_on()
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
    return coalesce((select (value #>> '{}')::boolean from htdag.settings
                     where key = 'task_events'), true);
end;
$$;
