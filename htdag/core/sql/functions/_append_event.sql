-- Appends one event and announces it (NOTIFY htdag_events '<event_id>:1').
-- Returns the event's id. The caller names the event's root run.
create or replace function htdag._append_event(
    p_kind text, p_run_id uuid, p_root_run_id uuid, p_step_name text, p_task_index int,
    p_data jsonb, p_attempt int = null, p_worker_id uuid = null)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_id bigint;
begin
    with appended as (
        insert into htdag.events (kind, run_id, root_run_id, step_name, task_index, attempt,
                                  worker_id, data)
        values (p_kind, p_run_id, p_root_run_id, p_step_name, p_task_index, p_attempt,
                p_worker_id, coalesce(p_data, '{}'::jsonb))
        returning event_id
    )
    select a.event_id into v_id
    from appended a, lateral (select pg_notify('htdag_events', a.event_id::text || ':1')) n;
    return v_id;
end;
$$;
