-- worker.joined, worker.stopped, worker.lost.
create or replace function htdag._worker_events()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        insert into htdag.events (kind, data)
        select 'worker.joined', jsonb_build_object(
                   'worker_id', n.worker_id, 'hostname', n.hostname, 'pid', n.pid,
                   'concurrency', n.concurrency)
        from new_workers n;
    else
        insert into htdag.events (kind, data)
        select case when n.stopped_at is not null then 'worker.stopped' else 'worker.lost' end,
               jsonb_build_object('worker_id', n.worker_id, 'hostname', n.hostname,
                                  'pid', n.pid, 'last_heartbeat_at', n.last_heartbeat_at)
        from new_workers n join old_workers o on o.worker_id = n.worker_id
        where (n.stopped_at is not null and o.stopped_at is null)
           or (n.lost_at is not null and o.lost_at is null);
    end if;
    return null;
end;
$$;

create trigger workers_insert_events after insert on htdag.workers
    referencing new table as new_workers
    for each statement execute function htdag._worker_events();
create trigger workers_update_events after update on htdag.workers
    referencing old table as old_workers new table as new_workers
    for each statement execute function htdag._worker_events();
