-- A worker's round trip, in one transaction: completes and fails its finished
-- tasks, then claims up to its free slots (less the tasks pushed to it that it
-- had not heard of). Its free slots are offered to the completions: the tasks
-- they make ready are created started for it while they fit (complete_tasks),
-- and are returned first, with no claim. Then it claims for the slots left
-- (claim_tasks), and announces the tasks it made ready only if its claim may
-- have left some: the claim came back full, or a task's handler is not one of
-- this worker's. The announcement names this worker, which ignores it. With
-- p_accept_pushes, records the worker's idle slots (what its claim left free)
-- for the pushes of runs' starts. p_done_seconds and p_failed_seconds: how
-- long each handler ran, as the worker measured (recorded with its attempt).
-- Lock order (every transition): the worker's row, task rows in task_id order,
-- step states in (run_id, step_name) order, then runs.
create or replace function htdag.worker_exchange(
    p_worker_id uuid,
    p_done_ids bigint[], p_done_tokens uuid[], p_done_outputs jsonb[],
    p_failed_ids bigint[], p_failed_tokens uuid[], p_failed_errors text[],
    p_failed_retryable boolean[],
    p_claim_limit int, p_handlers text[], p_lease_seconds double precision,
    p_accept_pushes boolean default false, p_pushes_seen bigint default 0,
    p_failed_codes htdag.error_code[] default null,
    p_done_seconds double precision[] default null,
    p_failed_seconds double precision[] default null)
returns table (task_id bigint, claim_token uuid, run_id uuid, step_name text, task_index int,
               handler text, attempt int, timeout double precision, input jsonb,
               hedge_after double precision)
language plpgsql
set search_path = ''
as $$
declare
    v_limit int := p_claim_limit;
    v_unheard bigint;
    v_was_idle int;
    v_made htdag.made_ready := row('{}', '{}');
    v_claimed int;
    v_reaped int := 0;  -- unless the reaper ran here
    v_idle int;
begin
    if p_accept_pushes then
        -- No push while this runs; pushes it had not heard of take slots it offered.
        select w.tasks_pushed - p_pushes_seen, w.idle_slots into v_unheard, v_was_idle
        from htdag.workers w where w.worker_id = p_worker_id
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
    -- Task rows in task_id order (complete_tasks and fail_tasks lock their own).
    if cardinality(p_done_ids) > 0 and cardinality(p_failed_ids) > 0 then
        perform 1 from htdag.tasks t where t.task_id = any (p_done_ids || p_failed_ids)
        order by t.task_id for update;
    end if;
    if cardinality(p_done_ids) > 0 then
        select (c.made).* into v_made
        from htdag.complete_tasks(
            p_done_ids, p_done_tokens, p_done_outputs, case when v_limit > 0 then row(
                p_worker_id, v_limit, p_lease_seconds, p_handlers)::htdag.task_offer end,
            p_done_seconds) c;
    end if;
    if cardinality(p_failed_ids) > 0 then
        perform htdag.fail_tasks(p_failed_ids, p_failed_tokens, p_failed_errors,
                                 p_failed_retryable, p_failed_codes, p_failed_seconds);
    end if;
    v_claimed := cardinality(v_made.taken);
    if v_claimed > 0 then
        return query select * from htdag._claimed_tasks(v_made.taken);
    end if;
    if v_claimed > 0 and cardinality(v_made.queued_handlers) = 0 then
        -- Every task it made ready was created started for it, which _create_tasks
        -- does only while nothing is queued: a claim could find only tasks
        -- committed since, and their makers announce them. Unless a lease had
        -- expired: what a claim would have reaped first is reaped here.
        v_reaped := htdag._reap_expired_tasks();
    end if;
    if v_claimed = 0 or cardinality(v_made.queued_handlers) > 0 or v_reaped > 0 then
        return query select * from htdag.claim_tasks(
            p_worker_id, v_limit - v_claimed, p_handlers, p_lease_seconds);
        get diagnostics v_claimed = row_count;
        v_claimed := v_claimed + cardinality(v_made.taken);
    end if;
    if cardinality(v_made.queued_handlers) > 0 and (v_claimed >= v_limit or exists (
            select 1 from unnest(v_made.queued_handlers) as h(name)
            where p_handlers is not null and h.name <> all (p_handlers)))
    then
        perform pg_notify('htdag_tasks', p_worker_id::text);
    end if;
    -- A claim that came back short found the queue empty (for this worker's
    -- handlers): its free slots are open to pushes until its next exchange.
    v_idle := case when p_accept_pushes then greatest(v_limit - v_claimed, 0) else 0 end;
    if v_idle is distinct from v_was_idle then  -- (unknown without pushes: written)
        update htdag.workers set idle_slots = v_idle
        where worker_id = p_worker_id and idle_slots <> v_idle;
    end if;
end;
$$;
