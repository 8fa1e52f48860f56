-- A worker's round trip, in one transaction: completes and fails its finished
-- tasks, then claims up to its free slots (less the tasks pushed to it that it
-- had not heard of). The tasks it makes ready are taken as they are created
-- while they fit (_start_steps), and then no claim is needed. The wake-up for
-- the tasks it made ready goes out only if its claim may have left some: the
-- claim came back full, or a task's handler is not one of this worker's. The
-- wake-up names this worker, which ignores it. With p_accept_pushes, records
-- the worker's idle slots (what its claim left free) for pushes.
-- Lock order (every transition): the worker's row, task rows in task_id order,
-- step states in (run_id, step_name) order, then runs.
create or replace function htdag.worker_exchange(
    p_worker_id uuid,
    p_done_ids bigint[], p_done_tokens uuid[], p_done_outputs jsonb[],
    p_failed_ids bigint[], p_failed_tokens uuid[], p_failed_errors text[],
    p_failed_retryable boolean[],
    p_claim_limit int, p_handlers text[], p_lease_seconds double precision,
    p_accept_pushes boolean default false, p_pushes_seen bigint default 0,
    p_failed_codes htdag.error_code[] default null)
returns table (task_id bigint, claim_token uuid, run_id uuid, step_name text, task_index int,
               handler text, attempt int, timeout double precision, input jsonb)
language plpgsql
set search_path = ''
as $$
declare
    v_limit int := p_claim_limit;
    v_unheard bigint;
    v_claimed int;
    v_idle int;
    v_ready jsonb;
    v_taken bigint[];
    v_was_idle int;
    v_reaped int;  -- null unless the reaper ran here
begin
    if p_accept_pushes then
        -- No push while this runs; pushes it had not heard of take slots it offered.
        select w.tasks_pushed - p_pushes_seen, w.idle_slots into v_unheard, v_was_idle
        from htdag.workers w
        where w.worker_id = p_worker_id
        for update;
        v_limit := greatest(p_claim_limit - greatest(coalesce(v_unheard, 0), 0), 0);
    end if;
    if cardinality(p_done_ids) = 0 and cardinality(p_failed_ids) = 0 then
        -- A claim alone need not wait for its WAL flush: if a crash loses it, the
        -- tasks are simply queued again (delivery is at least once), and the
        -- completion of a lost claim is rejected by its token. Completions and
        -- failures always commit synchronously.
        perform set_config('synchronous_commit', 'off', true);
    end if;
    -- Tasks this exchange makes ready are noted, not announced (see _notify_tasks),
    -- and taken as they are created while they fit (see _start_steps).
    perform set_config('htdag.notify_origin', p_worker_id::text, true);
    if v_limit > 0 and cardinality(p_done_ids) > 0 then
        perform set_config('htdag.claim_for', jsonb_build_object(
            'worker', p_worker_id, 'room', v_limit, 'lease', p_lease_seconds,
            'handlers', p_handlers)::text, true);
    end if;
    -- Task rows are locked in task_id order, as every transition does (see cancel_run).
    -- (complete_tasks and fail_tasks lock their own; both at once are locked here.)
    if cardinality(p_done_ids) > 0 and cardinality(p_failed_ids) > 0 then
        perform 1 from htdag.tasks t where t.task_id = any (p_done_ids || p_failed_ids)
        order by t.task_id for update;
    end if;
    if cardinality(p_done_ids) > 0 then
        perform htdag.complete_tasks(p_done_ids, p_done_tokens, p_done_outputs);
    end if;
    if cardinality(p_failed_ids) > 0 then
        perform htdag.fail_tasks(p_failed_ids, p_failed_tokens, p_failed_errors,
                                 p_failed_retryable, p_failed_codes);
    end if;
    v_taken := string_to_array(nullif(current_setting('htdag.claimed', true), ''), ',');
    v_ready := nullif(current_setting('htdag.ready_handlers', true), '')::jsonb;
    if v_taken is not null then
        return query select * from htdag._claimed_tasks(v_taken);
    end if;
    if v_taken is not null and v_ready is null then
        v_reaped := htdag._reap_expired_tasks();  -- what a claim would have reaped first
    end if;
    if v_reaped = 0 then
        -- The tasks it made ready were all created started for this worker, which
        -- _start_steps does only while nothing is queued, and no lease had expired:
        -- a claim now could find only tasks committed since, and their makers
        -- announce them (this worker then claims in its next exchange).
        v_claimed := cardinality(v_taken);
    else
        return query select * from htdag.claim_tasks(
            p_worker_id, v_limit - coalesce(cardinality(v_taken), 0), p_handlers,
            p_lease_seconds);
        get diagnostics v_claimed = row_count;
        v_claimed := v_claimed + coalesce(cardinality(v_taken), 0);
    end if;
    -- A claim that came back short took every ready task it could run, so the
    -- tasks made ready above that it could run are taken.
    if v_ready is not null and (v_claimed >= v_limit or exists (
            select 1 from jsonb_array_elements_text(v_ready) as h(name)
            where h.name is null or (p_handlers is not null and h.name <> all (p_handlers))))
    then
        perform pg_notify('htdag_tasks', p_worker_id::text);
    end if;
    -- The notes are this exchange's: what a later statement of the same transaction
    -- makes ready is announced by that statement, and claimed by nobody unasked.
    perform set_config('htdag.notify_origin', '', true), set_config('htdag.claim_for', '', true),
            set_config('htdag.claimed', '', true), set_config('htdag.ready_handlers', '', true);
    -- A claim that came back short found the queue empty (for this worker's
    -- handlers): its free slots are open to pushes until its next exchange.
    v_idle := case when p_accept_pushes then greatest(v_limit - v_claimed, 0) else 0 end;
    if v_idle is distinct from v_was_idle then  -- (unknown without pushes: written)
        update htdag.workers set idle_slots = v_idle
        where worker_id = p_worker_id and idle_slots <> v_idle;
    end if;
end;
$$;
