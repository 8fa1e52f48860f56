-- Of tasks a claim picked (p_task_ids, in claim order), those it may start: a
-- task of a concurrency key with a limit only while fewer than the limit of the
-- key's tasks are started (the rest stay queued); every other task. Locks each
-- limited key's row (in key order) for the rest of the claim's transaction, so
-- that two workers claiming the same key count one after the other.
-- Lock order: after the task rows (the claim's), the keys' rows; nothing that
-- holds a key's row waits for a task row.
create or replace function htdag._within_concurrency_limits(p_task_ids bigint[])
returns bigint[]
language plpgsql
set search_path = ''
as $$
declare
    v_key text;
    v_max int;
    v_running int;
    v_left bigint[] := '{}';
begin
    for v_key, v_max in
        select l.key, l.max_running from htdag.concurrency_limits l
        where l.key in (select t.concurrency_key from htdag.tasks t
                        where t.task_id = any (p_task_ids))
        order by l.key
        for update of l
    loop
        select count(*) into v_running from htdag.tasks t
        where t.concurrency_key = v_key and t.status = 'started';
        v_left := v_left || array(
            select t.task_id from htdag.tasks t
            where t.task_id = any (p_task_ids) and t.concurrency_key = v_key
            order by t.priority desc, t.task_index, t.available_at, t.task_id
            offset greatest(v_max - v_running, 0));
    end loop;
    return array(select i from unnest(p_task_ids) with ordinality as u(i, n)
                 where i <> all (v_left) order by n);
end;
$$;
