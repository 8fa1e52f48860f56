-- The reaper (0013) inside a claim pushes nothing: the claim that runs it takes
-- what it requeues (and a push from within a push's own claim would recurse).
-- Its wake-ups name no worker, so every worker wakes.
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
    v_origin text := coalesce(current_setting('htdag.notify_origin', true), '');
    v_marked boolean := false;
begin
    for v_task_id in
        select task_id from htdag.tasks
        where status = 'started' and lease_expires_at < now()
        order by lease_expires_at
        limit 100
        for update skip locked
    loop
        if v_origin = '' and not v_marked then
            perform set_config('htdag.notify_origin', 'reaper', true);
            v_marked := true;
        end if;
        if htdag._fail_task(v_task_id,
                'lease expired: the worker stopped heartbeating or the task overran its timeout',
                true, 'timed_out') then
            v_count := v_count + 1;
        end if;
    end loop;
    if v_marked then
        perform set_config('htdag.notify_origin', '', true);
    end if;
    return v_count;
end;
$$;
