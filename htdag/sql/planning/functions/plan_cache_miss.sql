-- Emits cache.miss with p_data (the goal looked up and why it missed) and
-- returns the event's id. A miss otherwise writes nothing, so its transaction
-- commits without waiting for the WAL flush (synchronous_commit off, for the
-- rest of the caller's transaction): a crash of the server may lose the last
-- misses' events, and nothing else. Call it in a transaction of its own.
create or replace function htdag.plan_cache_miss(p_data jsonb)
returns bigint
language plpgsql
set search_path = ''
as $$
begin
    perform set_config('synchronous_commit', 'off', true);
    return htdag.record_event('cache.miss', null, p_data);
end;
$$;
