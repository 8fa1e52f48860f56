-- Whether task-level events are recorded (the setting task_events, default on).
create or replace function htdag._task_events_on()
returns boolean
language sql
stable
set search_path = ''
as $$
    select coalesce((select (value #>> '{}')::boolean from htdag.settings
                     where key = 'task_events'), true);
$$;

-- task.started, task.completed, task.retrying, task.released, task.failed from
-- task rows; task.timed_out from the attempt a reaped lease records. Recorded
-- only while the setting task_events is true (a cancelled task's run says it).
-- The old and new rows are paired by key with a hash join, whatever their number
-- (enable_nestloop off): transition tables have no index, and a nested loop over
-- them is quadratic in the rows the statement changed. The plan is cached with the
-- row counts of the first call, and the callers turn hash joins off for their own
-- statements (see claim_tasks), so the join method is set here, not left to costs.
-- Runs are reached by key in a subquery, per row, which that setting leaves alone.
create or replace function htdag._task_events()
returns trigger
language plpgsql
set search_path = ''
set enable_nestloop = off
set enable_hashjoin = on
as $$
begin
    if not htdag._task_events_on() then
        return null;
    end if;
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
        when o.status = 'started' and n.status = 'queued' and n.attempts_count < o.attempts_count
            then 'task.released'
        when o.status in ('started', 'waiting') and n.status = 'queued' then 'task.retrying'
        when n.status = 'failed' then 'task.failed'
        end as kind) e
    where n.status <> o.status and e.kind is not null
    order by n.task_id;
    return null;
end;
$$;

create trigger tasks_update_events after update on htdag.tasks
    referencing old table as old_tasks new table as new_tasks
    for each statement execute function htdag._task_events();

create or replace function htdag._attempt_events()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if not htdag._task_events_on() then
        return null;
    end if;
    insert into htdag.events (kind, run_id, root_run_id, step_name, task_index, data)
    select 'task.timed_out', a.run_id, r.root_run_id, a.step_name, t.task_index,
           jsonb_build_object('attempt', a.attempt, 'worker_id', a.worker_id, 'error', a.error)
    from new_attempts a
    join htdag.tasks t on t.task_id = a.task_id
    join htdag.runs r on r.run_id = a.run_id
    where a.outcome = 'timed_out';
    return null;
end;
$$;

create trigger attempts_insert_events after insert on htdag.attempts
    referencing new table as new_attempts
    for each statement execute function htdag._attempt_events();
