-- The slots of the idle worker with the most of them (at most 10), for a run's
-- start to push its tasks to; null when no live worker is idle. Locks that
-- worker's row until commit, skipping any locked (a worker in its exchange, or
-- being pushed to by another start).
create or replace function htdag._idle_worker_offer()
returns htdag.task_offer
language sql
set search_path = ''
as $$
    select row(w.worker_id, least(w.idle_slots, 10), w.lease_seconds, w.handlers)::htdag.task_offer
    from htdag.workers w
    where w.idle_slots > 0 and w.stopped_at is null and w.lost_at is null
    order by w.idle_slots desc
    limit 1
    for update skip locked
$$;
