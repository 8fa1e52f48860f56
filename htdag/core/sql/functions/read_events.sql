-- Events after a position (tx_id, event_id), in order, up to an optional
-- position, of transactions older than every running one (pg_snapshot_xmin):
-- what a reader has not seen yet and can never be overtaken by a later commit.
-- One query per case, so that reading one tree of runs goes through the root
-- index (a single query with "p_root_run_id is null or ..." gets one plan for
-- both, which walks the whole log from the position and filters it).
create or replace function htdag.read_events(
    p_after_tx xid8, p_after_id bigint, p_upto_tx xid8, p_upto_id bigint,
    p_root_run_id uuid, p_limit int)
returns table (event_id bigint, tx_id bigint, kind text, run_id uuid, root_run_id uuid,
               step_name text, task_index int, created_at timestamptz, attempt int,
               worker_id uuid, data jsonb)
language plpgsql
stable
set search_path = ''
as $$
begin
    if p_root_run_id is null then
        return query
        select e.event_id, e.tx_id::text::bigint, e.kind, e.run_id, e.root_run_id,
               e.step_name, e.task_index, e.created_at, e.attempt, e.worker_id, e.data
        from htdag.events e
        where (e.tx_id, e.event_id) > (p_after_tx, p_after_id)
          and (p_upto_tx is null or (e.tx_id, e.event_id) <= (p_upto_tx, p_upto_id))
          and e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
        order by e.tx_id, e.event_id
        limit p_limit;
    else
        return query
        select e.event_id, e.tx_id::text::bigint, e.kind, e.run_id, e.root_run_id,
               e.step_name, e.task_index, e.created_at, e.attempt, e.worker_id, e.data
        from htdag.events e
        where e.root_run_id = p_root_run_id
          and (e.tx_id, e.event_id) > (p_after_tx, p_after_id)
          and (p_upto_tx is null or (e.tx_id, e.event_id) <= (p_upto_tx, p_upto_id))
          and e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
        order by e.tx_id, e.event_id
        limit p_limit;
    end if;
end;
$$;
