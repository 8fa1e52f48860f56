-- A step row is written once per transition instead of twice.
--
-- * A single step completes in the statement that counts its task off
--   (complete_tasks): its output is the one task's output, which the batch
--   carries, so no second update of the row and no read of the task. (A map
--   step still assembles its output from its tasks after the count: see 0036.)
-- * A single step whose last dependency completes starts in the statement that
--   counts the dependency off (_step_completed): it has one task, so nothing
--   needs reading first. (A map step still starts in _start_steps, which reads
--   its input array to count its tasks.)
--
-- Besides the statement, each second write of a row in the same transaction
-- also re-ran the foreign-key checks of the row (PostgreSQL re-checks a key on
-- update when the row was written by the current transaction).
--
-- A worker's exchange that makes tasks ready while the queue is empty takes them
-- as it creates them (_start_steps inserts them started, for that worker, up to
-- the free slots the exchange offers): the claim it would have made in the same
-- transaction would have picked exactly these, so nothing anyone can see changes,
-- but the tasks are written once, not inserted and then claimed. A queue that
-- holds any task leaves the order to the claim, as before.
--
-- And a worker's exchange wakes the other workers only when it leaves some of the
-- tasks it made ready in the queue (its claim was full, or a task is for a handler
-- it does not have): a chain step used to wake every listening worker, the
-- exchanging one included, for a task its own claim had already taken.

-- What follows a step's completion: the run's count, then its dependents.
create function htdag._step_completed(p_run_id uuid, p_step_name text, p_flow_hash text)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_dependents text[];
    v_singles text[];
    v_remaining int;
    v_ready text[];
    v_started text[];
begin
    update htdag.runs set remaining_steps = remaining_steps - 1
    where run_id = p_run_id and status = 'running'
    returning remaining_steps into v_remaining;
    if v_remaining is null then
        return;
    elsif v_remaining = 0 then
        perform htdag._complete_run(p_run_id);
        return;
    end if;

    -- The dependents' names come from the dependency edges, then their rows by key
    -- (run_id, step_name): never a read of every step of the run, which statistics
    -- shaped by other flows would make the planner choose.
    select array_agg(d.step_name),
           array_agg(d.step_name) filter (
               where (select s.kind from htdag.steps s
                      where s.flow_hash = d.flow_hash and s.step_name = d.step_name) = 'single')
    into v_dependents, v_singles
    from htdag.deps d where d.flow_hash = p_flow_hash and d.dep_name = p_step_name;
    if v_dependents is null then
        return;
    end if;
    with dependents as (
        update htdag.step_states ss
        -- (A single step whose count reaches 0 starts: the same test four times. No
        -- join with steps: its generic plan can read every step of the flow.)
        set remaining_deps = ss.remaining_deps - 1,
            status = case when ss.remaining_deps = 1 and ss.status = 'created'
                               and ss.step_name = any (v_singles) then 'started'
                          else ss.status end,
            started_at = case when ss.remaining_deps = 1 and ss.status = 'created'
                                   and ss.step_name = any (v_singles) then now()
                              else ss.started_at end,
            remaining_tasks = case when ss.remaining_deps = 1 and ss.status = 'created'
                                        and ss.step_name = any (v_singles) then 1
                                   else ss.remaining_tasks end,
            initial_tasks = case when ss.remaining_deps = 1 and ss.status = 'created'
                                      and ss.step_name = any (v_singles) then 1
                                 else ss.initial_tasks end
        where ss.run_id = p_run_id and ss.step_name = any (v_dependents)
        returning ss.step_name, ss.remaining_deps, ss.status
    )
    select array_agg(step_name) filter (where remaining_deps = 0),
           array_agg(step_name) filter (where remaining_deps = 0 and status = 'started')
    into v_ready, v_started
    from dependents;
    if v_ready is not null then
        perform htdag._start_steps(p_run_id, v_ready, coalesce(v_started, '{}'));
    end if;
end;
$$;

-- _complete_step (0004): the row's update, then _step_completed.
create or replace function htdag._complete_step(p_run_id uuid, p_step_name text, p_output jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_flow_hash text;
begin
    update htdag.step_states
    set status = 'completed', output = p_output, remaining_tasks = 0, completed_at = now()
    where run_id = p_run_id and step_name = p_step_name and status = 'started'
    returning flow_hash into v_flow_hash;
    if found then
        perform htdag._step_completed(p_run_id, p_step_name, v_flow_hash);
    end if;
end;
$$;

-- _start_steps (0038) for steps of which some (p_started) are already marked
-- started by the caller: those only get their tasks. In a worker's exchange
-- (htdag.claim_for: the worker, its free slots, lease and handlers) a step's tasks
-- are created started for that worker when they fit its free slots, it has their
-- handler, and no task is queued; their ids are noted in htdag.claimed.
drop function htdag._start_steps(uuid, text[]);
create function htdag._start_steps(p_run_id uuid, p_step_names text[],
                                   p_started text[] default '{}')
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_run htdag.runs;
    v_step htdag.steps;
    v_array jsonb;
    v_count int;
    v_claim jsonb := nullif(current_setting('htdag.claim_for', true), '')::jsonb;
    v_take boolean;
    v_ids bigint[];
begin
    select * into v_run from htdag.runs where run_id = p_run_id;
    for v_step in
        select * from htdag.steps
        where flow_hash = v_run.flow_hash and step_name = any (p_step_names)
        order by step_index
    loop
        if v_step.kind = 'map' then
            if v_step.deps_count = 0 then
                v_array := v_run.input;
            else
                select ss.output into v_array
                from htdag.deps d
                join htdag.step_states ss on ss.run_id = p_run_id and ss.step_name = d.dep_name
                where d.flow_hash = v_run.flow_hash and d.step_name = v_step.step_name;
            end if;
            if jsonb_typeof(v_array) is distinct from 'array' then
                perform htdag._fail_run(p_run_id, v_step.step_name, null, format(
                    'map step %L needs an array as input, got %s; make %s return a list',
                    v_step.step_name, coalesce(jsonb_typeof(v_array), 'nothing'),
                    case when v_step.deps_count = 0 then 'the run input'
                         else 'its dependency' end));
                return;
            end if;
            v_count := jsonb_array_length(v_array);
        else
            v_count := 1;
        end if;

        if not v_step.step_name = any (p_started) then
            update htdag.step_states
            set status = 'started', started_at = now(), remaining_tasks = v_count,
                initial_tasks = v_count
            where run_id = p_run_id and step_name = v_step.step_name;
        end if;

        if v_count > 0 and not htdag._take_task_budget(v_run.root_run_id, v_count) then
            perform htdag._fail_run(p_run_id, v_step.step_name, null, format(
                'task budget exceeded: step %L needs %s tasks, over the maximum for its root '
                'run %s; raise max_tasks or plan a smaller graph',
                v_step.step_name, v_count, v_run.root_run_id));
            return;
        end if;
        if v_count = 0 then
            perform htdag._complete_step(p_run_id, v_step.step_name, '[]'::jsonb);
            continue;
        end if;
        -- Taken by the exchange that creates them (started for its worker), or queued.
        v_take := v_claim is not null and v_count <= (v_claim ->> 'room')::int
                  and (v_claim -> 'handlers' = 'null' or v_claim -> 'handlers' ? v_step.handler)
                  and not exists (select 1 from htdag.tasks t where t.status = 'queued');
        with created as (
            insert into htdag.tasks (run_id, step_name, task_index, handler, priority,
                                     max_attempts, base_delay, max_delay, timeout, input,
                                     status, attempts_count, started_at, claim_token,
                                     worker_id, lease_expires_at)
            select p_run_id, v_step.step_name, i, v_step.handler, v_step.priority,
                   v_step.max_attempts, v_step.base_delay, v_step.max_delay, v_step.timeout,
                   case when v_step.kind = 'map' then v_array -> i end,
                   case when v_take then 'started' else 'queued' end::htdag.task_status,
                   case when v_take then 1 else 0 end,
                   case when v_take then now() end,
                   case when v_take then gen_random_uuid() end,
                   case when v_take then (v_claim ->> 'worker')::uuid end,
                   case when v_take then now() + make_interval(
                       secs => (v_claim ->> 'lease')::double precision) end
            from generate_series(0, v_count - 1) as i
            returning task_id
        )
        select array_agg(task_id order by task_id) filter (where v_take) into v_ids
        from created;
        if v_take then
            v_claim := jsonb_set(v_claim, '{room}',
                                 to_jsonb((v_claim ->> 'room')::int - v_count));
            perform set_config('htdag.claim_for', v_claim::text, true),
                    set_config('htdag.claimed', concat_ws(',',
                        nullif(current_setting('htdag.claimed', true), ''),
                        array_to_string(v_ids, ',')), true);
        else
            perform htdag._notify_tasks(v_step.handler);
        end if;
    end loop;
end;
$$;

-- complete_tasks (0036): a single step completes in the counting update.
create or replace function htdag.complete_tasks(
    p_task_ids bigint[], p_tokens uuid[], p_outputs jsonb[])
returns bigint[]
language plpgsql
set search_path = ''
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set plan_cache_mode = force_generic_plan
as $$
declare
    v_done bigint[];
    v_run_ids uuid[];
    v_step_names text[];
    v_counts int[];
    v_firsts jsonb[];
    v_step record;
begin
    -- Task rows are locked in task_id order, as every transition does (see cancel_run);
    -- one row is locked by the update itself.
    if cardinality(p_task_ids) > 1 then
        perform 1 from htdag.tasks where task_id = any (p_task_ids) order by task_id for update;
    end if;
    with done as (
        update htdag.tasks t
        set status = 'completed', completed_at = now(), output = b.output,
            claim_token = null, lease_expires_at = null
        from unnest(p_task_ids, p_tokens, p_outputs) as b(task_id, token, output)
        where t.task_id = b.task_id and t.claim_token = b.token
          and t.status in ('started', 'waiting')
        returning t.*
    ), recorded as (
        insert into htdag.attempts (task_id, attempt, run_id, step_name, handler, worker_id,
                                    outcome, queued_at, started_at)
        select task_id, attempts_count, run_id, step_name, handler, worker_id,
               'completed', queued_at, started_at
        from done
        returning task_id
    ), finished as (
        -- first: the output of the step's task 0 when the batch has it (a single
        -- step's only task).
        select d.run_id, d.step_name, count(*)::int as n,
               (array_agg(d.output) filter (where d.task_index = 0))[1] as first
        from done d group by d.run_id, d.step_name
    )
    select (select array_agg(r.task_id) from recorded r),
           array_agg(f.run_id order by f.run_id, f.step_name),
           array_agg(f.step_name order by f.run_id, f.step_name),
           array_agg(f.n order by f.run_id, f.step_name),
           array_agg(f.first order by f.run_id, f.step_name)
    into v_done, v_run_ids, v_step_names, v_counts, v_firsts
    from finished f;
    if v_done is null then
        return '{}';
    end if;

    -- Lock the step rows in one order so concurrent batches cannot deadlock (one
    -- row is locked by the update itself).
    if cardinality(v_run_ids) > 1 then
        perform 1 from htdag.step_states ss
        join unnest(v_run_ids, v_step_names) as f(run_id, step_name)
          on ss.run_id = f.run_id and ss.step_name = f.step_name
        order by ss.run_id, ss.step_name
        for update of ss;
    end if;

    for v_step in
        update htdag.step_states ss
        -- (A single step whose count reaches 0 completes: the same test three times.)
        set remaining_tasks = ss.remaining_tasks - f.n,
            status = case when s.kind = 'single' and ss.remaining_tasks = f.n
                               and f.first is not null then 'completed' else ss.status end,
            output = case when s.kind = 'single' and ss.remaining_tasks = f.n
                               and f.first is not null then f.first else ss.output end,
            completed_at = case when s.kind = 'single' and ss.remaining_tasks = f.n
                                     and f.first is not null then now()
                                else ss.completed_at end
        from unnest(v_run_ids, v_step_names, v_counts, v_firsts)
                 as f(run_id, step_name, n, first),
             htdag.steps s
        where ss.run_id = f.run_id and ss.step_name = f.step_name and ss.status = 'started'
          and s.flow_hash = ss.flow_hash and s.step_name = ss.step_name
        returning ss.run_id, ss.step_name, ss.remaining_tasks, ss.flow_hash, ss.status
    loop
        if v_step.status = 'completed' then
            perform htdag._step_completed(v_step.run_id, v_step.step_name, v_step.flow_hash);
        elsif v_step.remaining_tasks = 0 then
            perform htdag._complete_step(v_step.run_id, v_step.step_name, (
                select jsonb_agg(t.output order by t.task_index) from htdag.tasks t
                where t.run_id = v_step.run_id and t.step_name = v_step.step_name));
        end if;
    end loop;
    return v_done;
end;
$$;

-- The wake-up for ready tasks (0037) of handler p_handler (null: not known). In
-- a worker's exchange it is left to the exchange, after its claim: the handlers
-- are noted (htdag.ready_handlers, a JSON array, for this transaction only).
drop function htdag._notify_tasks();
create function htdag._notify_tasks(p_handler text default null)
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
    if v_origin not in ('', 'reaper') then
        perform set_config('htdag.ready_handlers',
            (coalesce(nullif(current_setting('htdag.ready_handlers', true), ''), '[]')::jsonb
             || jsonb_build_array(p_handler))::text, true);
        return;
    end if;
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

-- worker_exchange (0037), sending the wake-up for the tasks it made ready only if
-- its claim may have left some: the claim came back full, or a task's handler is
-- not one of this worker's (or not known). The wake-up names this worker, which
-- ignores it.
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
    v_ready jsonb;
    v_taken bigint[];
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
        perform htdag.fail_tasks(p_failed_ids, p_failed_tokens, p_failed_errors, p_failed_retryable);
    end if;
    v_taken := string_to_array(nullif(current_setting('htdag.claimed', true), ''), ',');
    if v_taken is not null then
        return query select * from htdag._claimed_tasks(v_taken);
    end if;
    return query select * from htdag.claim_tasks(
        p_worker_id, v_limit - coalesce(cardinality(v_taken), 0), p_handlers, p_lease_seconds);
    get diagnostics v_claimed = row_count;
    v_claimed := v_claimed + coalesce(cardinality(v_taken), 0);
    -- A claim that came back short took every ready task it could run, so the
    -- tasks made ready above that it could run are taken.
    v_ready := nullif(current_setting('htdag.ready_handlers', true), '')::jsonb;
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
    update htdag.workers set idle_slots = v_idle
    where worker_id = p_worker_id and idle_slots <> v_idle;
end;
$$;

-- Started tasks with their input assembled, in the order given: what a claim
-- returns (claim_tasks, and the tasks an exchange took as it created them).
-- {"run": <run input>, <dep>: <dep output>, ...} for a single step, the stored
-- element (or, for tasks from before 0038, one element of the input array) for a
-- map step.
create function htdag._claimed_tasks(p_task_ids bigint[])
returns table (task_id bigint, claim_token uuid, run_id uuid, step_name text, task_index int,
               handler text, attempt int, timeout double precision, input jsonb)
language plpgsql
set search_path = ''
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set plan_cache_mode = force_generic_plan
as $$
begin
    return query
    -- Every row below is reached by its full key, per task (the step, and each
    -- dependency's step state): never by reading all steps of the flow or of the
    -- run, which the planner would choose from statistics of small flows.
    select c.task_id, c.claim_token, c.run_id, c.step_name, c.task_index, c.handler,
           c.attempts_count, c.timeout,
           case when s.kind = 'single' then
               jsonb_build_object('run', r.input) || coalesce(
                   (select jsonb_object_agg(d.dep_name,
                                            (select ss.output from htdag.step_states ss
                                             where ss.run_id = c.run_id
                                               and ss.step_name = d.dep_name))
                    from htdag.deps d
                    where d.flow_hash = r.flow_hash and d.step_name = c.step_name), '{}'::jsonb)
           when c.input is not null then c.input
           when s.deps_count = 0 then r.input -> c.task_index
           else (select (select ss.output from htdag.step_states ss
                         where ss.run_id = c.run_id and ss.step_name = d.dep_name)
                        -> c.task_index
                 from htdag.deps d
                 where d.flow_hash = r.flow_hash and d.step_name = c.step_name)
           end
    from unnest(p_task_ids) with ordinality as i(task_id, n)
    join htdag.tasks c on c.task_id = i.task_id
    join htdag.runs r on r.run_id = c.run_id
    cross join lateral (select s.kind, s.deps_count from htdag.steps s
                        where s.flow_hash = r.flow_hash and s.step_name = c.step_name
                        limit 1) s  -- (flow_hash, step_name) is its key: one row
    order by i.n;
end;
$$;

-- claim_tasks (0038), its result assembled by _claimed_tasks, and claiming no task
-- that a younger transaction wrote (see below).
create or replace function htdag.claim_tasks(
    p_worker_id uuid, p_limit int, p_handlers text[], p_lease_seconds double precision)
returns table (task_id bigint, claim_token uuid, run_id uuid, step_name text, task_index int,
               handler text, attempt int, timeout double precision, input jsonb)
language plpgsql
set search_path = ''
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set plan_cache_mode = force_generic_plan
as $$
declare
    v_ids bigint[];
begin
    perform htdag._reap_expired_tasks();
    if p_limit <= 0 then
        return;
    end if;
    -- Only tasks last written by this transaction or an older one (age >= 0): a
    -- transaction with an id is ordered by it in the event stream (its events'
    -- position), so one that got its id before a run started must not claim that
    -- run's task, or the run's task.started would come before its run.started. An
    -- exchange gets its id early (it locks its worker's row), and each statement of
    -- a function sees what committed since: such a task waits for the next claim,
    -- which the run's own wake-up brings.
    with picked as (
        select t.task_id from htdag.tasks t
        where t.status = 'queued' and t.available_at <= now()
          and (p_handlers is null or t.handler = any (p_handlers))
          and age(t.xmin) >= 0
        order by t.priority desc, t.task_index, t.available_at
        limit p_limit
        for update skip locked
    ), claimed as (
        update htdag.tasks t
        set status = 'started', started_at = now(), attempts_count = t.attempts_count + 1,
            claim_token = gen_random_uuid(), worker_id = p_worker_id,
            lease_expires_at = now() + make_interval(secs => p_lease_seconds)
        from picked
        where t.task_id = picked.task_id
        returning t.task_id, t.priority, t.task_index, t.available_at
    )
    select array_agg(c.task_id order by c.priority desc, c.task_index, c.available_at, c.task_id)
    into v_ids from claimed c;
    if v_ids is not null then
        return query select * from htdag._claimed_tasks(v_ids);
    end if;
end;
$$;

-- task.started for a task created started (taken by the exchange that created
-- it): the update trigger (_task_events) sees only claims of queued tasks. A row
-- trigger that fires for those rows alone: a statement trigger would copy every
-- inserted task (a big map's thousands, all queued) into a transition table.
create function htdag._task_started_event()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if htdag._task_events_on() then
        perform htdag._append_event(
            'task.started', new.run_id,
            (select r.root_run_id from htdag.runs r where r.run_id = new.run_id),
            new.step_name, new.task_index,
            jsonb_build_object('attempt', new.attempts_count, 'worker_id', new.worker_id));
    end if;
    return null;
end;
$$;

create trigger tasks_insert_started_events after insert on htdag.tasks
    for each row when (new.status = 'started')
    execute function htdag._task_started_event();
