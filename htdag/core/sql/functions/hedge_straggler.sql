-- A straggler's worker asks for its second execution once the step's
-- hedge_after has passed (p_token: its claim token). When the task still runs
-- on that claim, is not hedged yet and its handler's budget allows
-- (_hedge_room), it gets a hedge token for: with p_here, the worker itself
-- (it has a free slot and started the second execution already); else the live
-- idle worker with the most idle slots, other than the task's and running its
-- handler, which is pushed the task (_send_push) and starts it at once. With no
-- such worker (or a payload too large to push), every worker is woken (NOTIFY
-- htdag_tasks) and the first with room claims the hedge (_claim_hedges).
-- Returns the hedge token given, else null.
-- Locks: the task's row, then the idle worker's (skip locked: never waits).
create or replace function htdag.hedge_straggler(
    p_task_id bigint, p_token uuid, p_here boolean default false)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
    v_task htdag.tasks;
    v_worker_id uuid;
    v_tasks jsonb;
    v_token uuid := gen_random_uuid();
begin
    select * into v_task from htdag.tasks t
    where t.task_id = p_task_id and t.claim_token = p_token and t.status = 'started'
      and t.hedge_after is not null and t.hedge_token is null
    for update;
    if not found or htdag._hedge_room(v_task.handler) <= 0 then
        return null;
    end if;
    if p_here then
        v_worker_id := v_task.worker_id;
    else
        select w.worker_id into v_worker_id
        from htdag.workers w
        where w.idle_slots > 0 and w.stopped_at is null and w.lost_at is null
          and w.worker_id is distinct from v_task.worker_id
          and v_task.handler = any (w.handlers)
        order by w.idle_slots desc
        limit 1
        for update skip locked;
        select jsonb_agg(to_jsonb(c) || jsonb_build_object('claim_token', v_token,
                                                           'hedge_after', null))
        into v_tasks
        from htdag._claimed_tasks(array[p_task_id]) c;
        if v_worker_id is null or octet_length(v_tasks::text) > 6500 then
            perform pg_notify('htdag_tasks', '');
            return null;
        end if;
    end if;
    update htdag.tasks
    set hedge_token = v_token, hedge_worker_id = v_worker_id, hedge_started_at = now()
    where task_id = p_task_id;
    if not p_here then
        perform htdag._send_push(v_worker_id, v_tasks, 1);
    end if;
    return v_token;
end;
$$;
