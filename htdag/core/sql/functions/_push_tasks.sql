-- Claims ready tasks for an idle worker and sends them to it; returns how many.
create or replace function htdag._push_tasks(p_worker htdag.workers, p_limit int)
returns int
language plpgsql
set search_path = ''
as $$
declare
    v_tasks jsonb;
    v_count int;
    v_payload text;
begin
    select coalesce(jsonb_agg(to_jsonb(c)), '[]'::jsonb), count(*) into v_tasks, v_count
    from htdag.claim_tasks(p_worker.worker_id, p_limit, p_worker.handlers,
                           p_worker.lease_seconds) c;
    if v_count = 0 then
        return 0;
    end if;
    v_payload := jsonb_build_object('worker_id', p_worker.worker_id, 'tasks', v_tasks)::text;
    if octet_length(v_payload) > 7000 then  -- PUSH_PAYLOAD_MAX, under NOTIFY's 8000
        raise exception 'push payload too large' using errcode = 'HT9PL';
    end if;
    update htdag.workers
    set idle_slots = greatest(idle_slots - v_count, 0), tasks_pushed = tasks_pushed + v_count
    where worker_id = p_worker.worker_id;
    perform pg_notify('htdag_push', v_payload);
    return v_count;
exception when sqlstate 'HT9PL' then
    return 0;  -- the claim is rolled back with the block: the tasks stay queued
end;
$$;
