-- Sets how many tasks of p_key may run at once over every worker (null: no
-- limit). Tasks already running above a lowered limit finish; claims wait
-- until the key is under it. Returns the previous limit (null: none).
create or replace function htdag.set_concurrency_limit(p_key text, p_max_running int)
returns int
language plpgsql
set search_path = ''
as $$
declare
    v_previous int;
begin
    select l.max_running into v_previous from htdag.concurrency_limits l
    where l.key = p_key for update;
    if p_max_running is null then
        delete from htdag.concurrency_limits where key = p_key;
    else
        insert into htdag.concurrency_limits (key, max_running) values (p_key, p_max_running)
        on conflict (key) do update set max_running = excluded.max_running, updated_at = now();
    end if;
    return v_previous;
end;
$$;
