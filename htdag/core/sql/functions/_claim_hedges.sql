-- Hedges for a claim with room left: up to p_limit started tasks of steps with
-- hedge_after (of p_handlers, or any when null) still running that long after
-- their start, run by another worker and not hedged yet, oldest first, get a
-- second execution for p_worker_id: a hedge token, the worker and its start.
-- The lease stays the task's (either worker's heartbeat extends it). A budget
-- caps extra load per handler (_hedge_room). Returns the ids hedged, oldest
-- first. (A straggler's worker first offers it to an idle worker:
-- hedge_straggler; this claim takes those no idle worker could.)
-- Locks: the candidate tasks (skip locked), in start order.
create or replace function htdag._claim_hedges(
    p_worker_id uuid, p_limit int, p_handlers text[])
returns bigint[]
language plpgsql
set search_path = ''
as $$
declare
    v_task record;
    v_left jsonb := '{}';  -- handler -> hedges its budget still allows
    v_room int;
    v_ids bigint[] := '{}';
begin
    for v_task in
        select t.task_id, t.handler from htdag.tasks t
        where t.status = 'started' and t.hedge_after is not null and t.hedge_token is null
          and t.started_at <= now() - make_interval(secs => t.hedge_after)
          and t.worker_id is distinct from p_worker_id
          and (p_handlers is null or t.handler = any (p_handlers))
        order by t.started_at
        limit p_limit
        for update skip locked
    loop
        if not v_left ? v_task.handler then
            v_left := v_left || jsonb_build_object(v_task.handler,
                                                   htdag._hedge_room(v_task.handler));
        end if;
        v_room := (v_left ->> v_task.handler)::int;
        continue when v_room <= 0;
        v_left := v_left || jsonb_build_object(v_task.handler, v_room - 1);
        v_ids := v_ids || v_task.task_id;
    end loop;
    if cardinality(v_ids) > 0 then
        update htdag.tasks
        set hedge_token = gen_random_uuid(), hedge_worker_id = p_worker_id,
            hedge_started_at = now()
        where task_id = any (v_ids);
    end if;
    return v_ids;
end;
$$;
