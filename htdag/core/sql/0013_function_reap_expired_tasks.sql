-- A task whose lease ran out lost its worker (or overran its timeout): the
-- attempt counts as timed out and the task is retried or failed. It walks the
-- lease index in order (never a scan of the tasks table: see claim_tasks).
create or replace function htdag._reap_expired_tasks()
returns int
language plpgsql
set search_path = ''
set enable_seqscan = off
set enable_bitmapscan = off
as $$
declare
    v_task_id bigint;
    v_count int := 0;
begin
    for v_task_id in
        select task_id from htdag.tasks
        where status = 'started' and lease_expires_at < now()
        order by lease_expires_at
        limit 100
        for update skip locked
    loop
        if htdag._fail_task(v_task_id,
                'lease expired: the worker stopped heartbeating or the task overran its timeout',
                true, 'timed_out') then
            v_count := v_count + 1;
        end if;
    end loop;
    return v_count;
end;
$$;
