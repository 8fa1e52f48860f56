-- Events cost less to emit (issue 3's target: task events on keep >= 0.8 of the
-- throughput without them; and a chain step pays for a handful of events):
--
-- * The emitters notify themselves, right after their insert: no trigger on
--   events (0020) whose transition table and call every insert paid for.
-- * Step, run and worker events come from row triggers that fire only when the
--   status changes (UPDATE OF status ... WHEN, checked without a call): the
--   counter updates (remaining_tasks, remaining_deps, remaining_steps,
--   heartbeats) no longer run a statement trigger over transition tables.
-- * Task events stay a statement trigger: a claim or completion batch of a
--   hundred tasks appends its hundred events in one insert.
--
-- A notification still says "<last event id>:<count>" of the rows one insert
-- appended (count 1 for a row trigger); listeners read the rows themselves.

drop trigger events_notify on htdag.events;
drop function htdag._notify_events();

-- Appends one event and announces it: every single-event emitter uses this.
create or replace function htdag._append_event(
    p_kind text, p_run_id uuid, p_root_run_id uuid, p_step_name text, p_task_index int,
    p_data jsonb)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_id bigint;
begin
    insert into htdag.events (kind, run_id, root_run_id, step_name, task_index, data)
    values (p_kind, p_run_id, p_root_run_id, p_step_name, p_task_index,
            coalesce(p_data, '{}'::jsonb))
    returning event_id into v_id;
    perform pg_notify('htdag_events', v_id::text || ':1');
    return v_id;
end;
$$;

-- run.started, run.completed, run.failed, run.cancelled.
create or replace function htdag._run_event()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        perform htdag._append_event(
            'run.started', new.run_id, new.root_run_id, null, null,
            jsonb_build_object('flow_hash', new.flow_hash, 'parent_run_id', new.parent_run_id));
    else
        perform htdag._append_event(
            'run.' || new.status::text, new.run_id, new.root_run_id, null, null,
            case new.status when 'failed' then jsonb_build_object('error', new.error)
                            else '{}'::jsonb end);
    end if;
    return null;
end;
$$;

drop trigger runs_insert_events on htdag.runs;
drop trigger runs_update_events on htdag.runs;
drop function htdag._run_events();
create trigger runs_insert_events after insert on htdag.runs
    for each row execute function htdag._run_event();
create trigger runs_status_events after update of status on htdag.runs
    for each row when (old.status is distinct from new.status)
    execute function htdag._run_event();

-- step.started, step.completed, step.failed (a cancelled step's run says it).
create or replace function htdag._step_event()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    perform htdag._append_event(
        'step.' || new.status::text, new.run_id,
        (select r.root_run_id from htdag.runs r where r.run_id = new.run_id), new.step_name,
        null,
        case new.status when 'started' then jsonb_build_object('tasks', new.initial_tasks)
                        when 'failed' then jsonb_build_object('error', new.error)
                        else '{}'::jsonb end);
    return null;
end;
$$;

drop trigger step_states_update_events on htdag.step_states;
drop function htdag._step_events();
create trigger step_states_status_events after update of status on htdag.step_states
    for each row
    when (old.status is distinct from new.status
          and new.status in ('started', 'completed', 'failed'))
    execute function htdag._step_event();

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

drop trigger workers_insert_events on htdag.workers;
drop trigger workers_update_events on htdag.workers;
drop function htdag._worker_events();
create trigger workers_insert_events after insert on htdag.workers
    for each row execute function htdag._worker_event();
create trigger workers_end_events after update of stopped_at, lost_at on htdag.workers
    for each row
    when ((new.stopped_at is not null and old.stopped_at is null)
          or (new.lost_at is not null and old.lost_at is null))
    execute function htdag._worker_event();

-- task.started, task.completed, task.retrying, task.released, task.failed: see
-- 0023, which this repeats with the notification after the insert.
create or replace function htdag._task_events()
returns trigger
language plpgsql
set search_path = ''
set enable_nestloop = off
set enable_hashjoin = on
as $$
declare
    v_last bigint;
    v_count int;
begin
    if not htdag._task_events_on() then
        return null;
    end if;
    with appended as (
        insert into htdag.events (kind, run_id, root_run_id, step_name, task_index, data)
        select e.kind, n.run_id,
               (select r.root_run_id from htdag.runs r where r.run_id = n.run_id),
               n.step_name, n.task_index,
               case e.kind
                   when 'task.started' then jsonb_build_object('attempt', n.attempts_count,
                                                               'worker_id', n.worker_id)
                   when 'task.completed' then jsonb_build_object('attempt', n.attempts_count)
                   when 'task.retrying' then jsonb_build_object(
                       'attempt', n.attempts_count, 'error', n.error,
                       'available_at', n.available_at)
                   when 'task.failed' then jsonb_build_object('attempt', n.attempts_count,
                                                              'error', n.error)
                   else '{}'::jsonb end
        from new_tasks n
        join old_tasks o on o.task_id = n.task_id
        cross join lateral (select case
            when o.status = 'queued' and n.status = 'started' then 'task.started'
            when n.status = 'completed' then 'task.completed'
            when o.status = 'started' and n.status = 'queued'
                 and n.attempts_count < o.attempts_count then 'task.released'
            when o.status in ('started', 'waiting') and n.status = 'queued' then 'task.retrying'
            when n.status = 'failed' then 'task.failed'
            end as kind) e
        where n.status <> o.status and e.kind is not null
        order by n.task_id
        returning event_id
    )
    select max(event_id), count(*) into v_last, v_count from appended;
    if v_count > 0 then
        perform pg_notify('htdag_events', v_last::text || ':' || v_count::text);
    end if;
    return null;
end;
$$;

-- The planning layer's events (0033), now announced.
create or replace function htdag.record_event(p_kind text, p_run_id uuid, p_data jsonb)
returns bigint
language plpgsql
set search_path = ''
as $$
begin
    if split_part(p_kind, '.', 1) not in ('decomposition', 'subgoal', 'optimizer') then
        raise exception 'event kind % is not the planning layer''s', p_kind
            using errcode = 'HT004',
                  hint = 'record only decomposition.*, subgoal.* or optimizer.* kinds';
    end if;
    return htdag._append_event(
        p_kind, p_run_id, (select root_run_id from htdag.runs where run_id = p_run_id),
        null, null, p_data);
end;
$$;

-- A decomposition and its decomposition.completed event (0032), now announced.
create or replace function htdag.record_decomposition(
    p_goal text, p_decomposer text, p_graph jsonb, p_duration_ms double precision,
    p_run_id uuid, p_parent_run_id uuid)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_id bigint;
begin
    insert into htdag.decompositions (goal, decomposer, graph, tasks, duration_ms, run_id,
                                      parent_run_id)
    values (p_goal, p_decomposer, p_graph, jsonb_array_length(p_graph -> 'tasks'),
            p_duration_ms, p_run_id, p_parent_run_id)
    returning decomposition_id into v_id;
    perform htdag._append_event(
        'decomposition.completed', p_run_id,
        (select root_run_id from htdag.runs where run_id = p_run_id), null, null,
        jsonb_build_object('decomposition_id', v_id, 'decomposer', p_decomposer,
                           'goal', left(p_goal, 200),
                           'tasks', jsonb_array_length(p_graph -> 'tasks'),
                           'duration_ms', round(p_duration_ms::numeric, 2),
                           'parent_run_id', p_parent_run_id));
    return v_id;
end;
$$;

-- The task events setting, now in PL/pgSQL, which keeps its plans for the
-- session: a LANGUAGE sql function with a SET clause is parsed and planned again
-- at every call (before PostgreSQL 18), and this one runs on every transition.
create or replace function htdag._task_events_on()
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
    return coalesce((select (value #>> '{}')::boolean from htdag.settings
                     where key = 'task_events'), true);
end;
$$;
