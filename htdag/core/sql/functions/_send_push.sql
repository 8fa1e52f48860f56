-- Sends tasks claimed for an idle worker to it (NOTIFY htdag_push, input
-- included) and counts them against its idle slots: the one place a push is
-- made. A payload over PUSH_PAYLOAD_MAX (7000 bytes, under NOTIFY's 8000)
-- raises HT9PL and nothing is sent.
create or replace function htdag._send_push(p_worker_id uuid, p_tasks jsonb, p_count int)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_payload text := jsonb_build_object('worker_id', p_worker_id, 'tasks', p_tasks)::text;
begin
    if octet_length(v_payload) > 7000 then
        raise exception 'push payload too large' using errcode = 'HT9PL';
    end if;
    update htdag.workers
    set idle_slots = greatest(idle_slots - p_count, 0), tasks_pushed = tasks_pushed + p_count
    where worker_id = p_worker_id;
    perform pg_notify('htdag_push', v_payload);
end;
$$;
