-- Deletes events older than p_older_than; returns how many.
create or replace function htdag.prune_events(p_older_than interval)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_count bigint;
begin
    delete from htdag.events where created_at < now() - p_older_than;
    get diagnostics v_count = row_count;
    return v_count;
end;
$$;
