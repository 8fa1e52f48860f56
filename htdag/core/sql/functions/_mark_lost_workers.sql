-- Marks lost every worker that missed its heartbeats for a whole lease (its
-- tasks' leases run out at the same time). Every heartbeat checks on its peers.
-- Returns how many it marked.
create or replace function htdag._mark_lost_workers()
returns int
language plpgsql
set search_path = ''
as $$
declare
    v_count int;
begin
    update htdag.workers
    set lost_at = now()
    where stopped_at is null and lost_at is null
      and last_heartbeat_at < now() - make_interval(secs => lease_seconds);
    get diagnostics v_count = row_count;
    return v_count;
end;
$$;
