-- Registers a worker as it starts (worker.joined); a worker registering again
-- under its id is live again. Heartbeats go through extend_leases.
create or replace function htdag.register_worker(
    p_worker_id uuid, p_hostname text, p_pid int, p_handlers text[], p_concurrency int,
    p_lease_seconds double precision default 30)
returns void
language sql
set search_path = ''
as $$
    insert into htdag.workers (worker_id, hostname, pid, handlers, concurrency, lease_seconds)
    values (p_worker_id, p_hostname, p_pid, p_handlers, p_concurrency, p_lease_seconds)
    on conflict (worker_id) do update
    set last_heartbeat_at = now(), stopped_at = null, lost_at = null;
$$;
