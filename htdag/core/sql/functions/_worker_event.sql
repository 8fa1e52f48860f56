-- Trigger (workers, after insert and after stopped_at or lost_at is set):
-- worker.joined, worker.stopped, worker.lost.
create or replace function htdag._worker_event()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        perform htdag._append_event(
            'worker.joined', null, null, null, null,
            jsonb_build_object('worker_id', new.worker_id, 'hostname', new.hostname,
                               'pid', new.pid, 'concurrency', new.concurrency));
    else
        perform htdag._append_event(
            case when new.stopped_at is not null then 'worker.stopped' else 'worker.lost' end,
            null, null, null, null,
            jsonb_build_object('worker_id', new.worker_id, 'hostname', new.hostname,
                               'pid', new.pid, 'last_heartbeat_at', new.last_heartbeat_at));
    end if;
    return null;
end;
$$;
