-- A worker that stops cleanly: marked stopped (worker.stopped), idle no more,
-- and what was pushed to it unheard goes back to the queue (it gave back or
-- finished everything it knew of).
create or replace function htdag.stop_worker(p_worker_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
begin
    update htdag.workers set stopped_at = now(), idle_slots = 0 where worker_id = p_worker_id;
    perform htdag.release_unheard_tasks(p_worker_id, '{}');
end;
$$;
