-- Push to idle workers: a transaction that makes tasks ready while a worker
-- sits idle claims them for that worker itself and sends them in the NOTIFY,
-- so the worker starts the handler without a round trip of its own (the claim
-- is what a one-step run's dispatch latency used to wait for).
--
-- * A worker is idle when its last exchange claimed fewer tasks than it asked
--   for (workers.idle_slots: how many more it could take); only workers that
--   accept pushes (worker_exchange's p_accept_pushes) are ever idle.
-- * The push is an ordinary claim (claim_tasks: lease, token, task.started
--   event) plus pg_notify('htdag_push', {"worker_id", "tasks": [claimed rows]}).
--   A payload over PUSH_PAYLOAD_MAX bytes (large inputs) is not pushed: the
--   claim is rolled back and the tasks wait for an ordinary claim.
-- * Nothing is lost if the worker misses the NOTIFY: the lease runs out as for
--   any claimed task; sooner, a worker whose LISTEN connection comes back
--   releases what was pushed to it unheard (release_unheard_tasks), and
--   stop_worker releases whatever is still pushed to a worker that stops.

-- * A push and an exchange never overlap (the exchange locks the worker's row;
--   a push skips a locked worker), and an exchange claims fewer by the tasks
--   pushed to its worker that the worker had not heard of when it sent it
--   (workers.tasks_pushed, counted by pushes, against p_pushes_seen, counted by
--   the worker), so the two do not claim more than the worker's free slots.

alter table htdag.workers
    add column idle_slots int not null default 0 check (idle_slots >= 0),
    add column tasks_pushed bigint not null default 0;
create index workers_idle_idx on htdag.workers (idle_slots)
    where idle_slots > 0 and stopped_at is null and lost_at is null;

-- Claims ready tasks for an idle worker and sends them to it; returns how many.
create or replace function htdag._push_tasks(p_worker htdag.workers, p_limit int)
returns int
language plpgsql
set search_path = ''
as $$
declare
    v_tasks jsonb;
    v_count int;
    v_payload text;
begin
    select coalesce(jsonb_agg(to_jsonb(c)), '[]'::jsonb), count(*) into v_tasks, v_count
    from htdag.claim_tasks(p_worker.worker_id, p_limit, p_worker.handlers,
                           p_worker.lease_seconds) c;
    if v_count = 0 then
        return 0;
    end if;
    v_payload := jsonb_build_object('worker_id', p_worker.worker_id, 'tasks', v_tasks)::text;
    if octet_length(v_payload) > 7000 then  -- PUSH_PAYLOAD_MAX, under NOTIFY's 8000
        raise exception 'push payload too large' using errcode = 'HT9PL';
    end if;
    update htdag.workers
    set idle_slots = greatest(idle_slots - v_count, 0), tasks_pushed = tasks_pushed + v_count
    where worker_id = p_worker.worker_id;
    perform pg_notify('htdag_push', v_payload);
    return v_count;
exception when sqlstate 'HT9PL' then
    return 0;  -- the claim is rolled back with the block: the tasks stay queued
end;
$$;

-- The wake-up for ready tasks (0034), pushing them first to an idle worker when
-- no worker's exchange made them ready (that worker's claim took them already).
-- The wake-up then names the worker pushed to if the push took everything it
-- could (it needs no wake), and nobody otherwise.
create or replace function htdag._notify_tasks()
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_origin text := coalesce(current_setting('htdag.notify_origin', true), '');
    v_worker htdag.workers;
    v_limit int;
    v_pushed int;
begin
    if v_origin = '' then
        select * into v_worker from htdag.workers w
        where w.idle_slots > 0 and w.stopped_at is null and w.lost_at is null
        order by w.idle_slots desc
        limit 1
        for update skip locked;
        if found then
            v_limit := least(v_worker.idle_slots, 10);
            v_pushed := htdag._push_tasks(v_worker, v_limit);
            if v_pushed > 0 and v_pushed < v_limit then
                v_origin := v_worker.worker_id::text;
            end if;
        end if;
    end if;
    perform pg_notify('htdag_tasks', v_origin);
end;
$$;

-- Tasks pushed to a worker that it does not know of (its LISTEN connection was
-- down when they came) go back to the queue; the attempt does not count.
-- p_pushes_seen: how many pushed tasks the worker has heard of, all told (what
-- was pushed beyond that is released now, so it is no longer owed).
create or replace function htdag.release_unheard_tasks(
    p_worker_id uuid, p_known bigint[], p_pushes_seen bigint default null)
returns bigint[]
language plpgsql
set search_path = ''
set enable_seqscan = off
as $$
declare
    v_released bigint[];
begin
    with unheard as (
        select t.task_id from htdag.tasks t
        where t.lease_expires_at is not null and t.status = 'started'
          and t.worker_id = p_worker_id and t.task_id <> all (p_known)
        order by t.task_id
        for update
    ), released as (
        update htdag.tasks t
        set status = 'queued', attempts_count = t.attempts_count - 1, claim_token = null,
            lease_expires_at = null, worker_id = null, available_at = now()
        from unheard u
        where t.task_id = u.task_id
        returning t.task_id
    )
    select coalesce(array_agg(task_id), '{}') into v_released from released;
    if cardinality(v_released) > 0 then
        perform pg_notify('htdag_tasks', '');
    end if;
    if p_pushes_seen is not null then
        update htdag.workers set tasks_pushed = p_pushes_seen
        where worker_id = p_worker_id and tasks_pushed <> p_pushes_seen;
    end if;
    return v_released;
end;
$$;

-- A worker that stops (0017) is idle no more, and what was pushed to it unheard
-- goes back to the queue (it gave back or finished everything it knew of).
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

drop function htdag.worker_exchange(uuid, bigint[], uuid[], jsonb[], bigint[], uuid[], text[],
                                    boolean[], int, text[], double precision);

-- A worker's one round trip (0018), now also naming itself as the origin of the
-- wake-ups it causes (0034), locking task rows itself only when it both completes
-- and fails (each of those locks its own), and saying whether it is idle: record
-- finished and failed attempts, then claim more. A worker that finishes a task can start the next ready one (possibly
-- the step its completion just started) without another round trip.
create or replace function htdag.worker_exchange(
    p_worker_id uuid,
    p_done_ids bigint[], p_done_tokens uuid[], p_done_outputs jsonb[],
    p_failed_ids bigint[], p_failed_tokens uuid[], p_failed_errors text[],
    p_failed_retryable boolean[],
    p_claim_limit int, p_handlers text[], p_lease_seconds double precision,
    p_accept_pushes boolean default false, p_pushes_seen bigint default 0)
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
begin
    if p_accept_pushes then
        -- No push while this runs; pushes it had not heard of take slots it offered.
        select w.tasks_pushed - p_pushes_seen into v_unheard from htdag.workers w
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
    -- The NOTIFY of tasks this exchange makes ready names this worker, which ignores
    -- it: the claim below, in the same transaction, already took what it could.
    perform set_config('htdag.notify_origin', p_worker_id::text, true);
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
        perform htdag.fail_tasks(p_failed_ids, p_failed_tokens, p_failed_errors, p_failed_retryable);
    end if;
    return query select * from htdag.claim_tasks(p_worker_id, v_limit, p_handlers,
                                                 p_lease_seconds);
    -- A claim that came back short found the queue empty (for this worker's
    -- handlers): its free slots are open to pushes until its next exchange.
    get diagnostics v_claimed = row_count;
    v_idle := case when p_accept_pushes then greatest(v_limit - v_claimed, 0) else 0 end;
    update htdag.workers set idle_slots = v_idle
    where worker_id = p_worker_id and idle_slots <> v_idle;
end;
$$;

-- The reaper (0013) inside a claim pushes nothing: the claim that runs it takes
-- what it requeues (and a push from within a push's own claim would recurse).
-- Its wake-ups name no worker, so every worker wakes.
create or replace function htdag._reap_expired_tasks()
returns int
language plpgsql
set search_path = ''
set enable_seqscan = off
set enable_bitmapscan = off
as $$
declare
    v_task_id bigint;
    v_count int := 0;
    v_origin text := coalesce(current_setting('htdag.notify_origin', true), '');
    v_marked boolean := false;
begin
    for v_task_id in
        select task_id from htdag.tasks
        where status = 'started' and lease_expires_at < now()
        order by lease_expires_at
        limit 100
        for update skip locked
    loop
        if v_origin = '' and not v_marked then
            perform set_config('htdag.notify_origin', 'reaper', true);
            v_marked := true;
        end if;
        if htdag._fail_task(v_task_id,
                'lease expired: the worker stopped heartbeating or the task overran its timeout',
                true, 'timed_out') then
            v_count := v_count + 1;
        end if;
    end loop;
    if v_marked then
        perform set_config('htdag.notify_origin', '', true);
    end if;
    return v_count;
end;
$$;
