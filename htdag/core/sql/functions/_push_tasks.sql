-- Claims up to p_limit ready tasks for an idle worker and sends them to it
-- (_send_push); returns how many. A payload too large for a NOTIFY rolls the
-- claim back: the tasks stay queued for an ordinary claim.
create or replace function htdag._push_tasks(p_worker htdag.workers, p_limit int)
returns int
language plpgsql
set search_path = ''
as $$
declare
    v_tasks jsonb;
    v_count int;
begin
    select coalesce(jsonb_agg(to_jsonb(c)), '[]'::jsonb), count(*) into v_tasks, v_count
    from htdag.claim_tasks(p_worker.worker_id, p_limit, p_worker.handlers,
                           p_worker.lease_seconds) c;
    if v_count = 0 then
        return 0;
    end if;
    perform htdag._send_push(p_worker.worker_id, v_tasks, v_count);
    return v_count;
exception when sqlstate 'HT9PL' then
    return 0;  -- the claim is rolled back with the block: the tasks stay queued
end;
$$;
