-- Trigger (tasks, after update, per statement): task.started, task.hedged (a
-- second execution of a straggler started), task.completed,
-- task.released, task.retrying, task.failed from the transition tables, in one
-- insert, announced by one NOTIFY '<last id>:<count>'. Nothing when task events
-- are off (_task_events_on).
-- Planner setting: enable_nestloop = off. Transition tables have no index, and
-- the plan is cached with the row counts of the first calls (one row): a nested
-- loop, quadratic in the rows a later statement changes
-- (tests/integration/sql/planner_settings/test_task_events_joins_a_large_batch_by_hash.py
-- shows it for a claim of 5,000 tasks).
create or replace function htdag._task_events()
returns trigger
language plpgsql
set search_path = ''
set enable_nestloop = off
as $$
declare
    v_last bigint;
    v_count int;
begin
    if not htdag._task_events_on() then
        return null;
    end if;
    with appended as (
        insert into htdag.events (kind, run_id, root_run_id, step_name, task_index,
                                  attempt, worker_id, data)
        select e.kind, n.run_id,
               n.root_run_id, n.step_name, n.task_index,
               case when e.kind <> 'task.released' then n.attempts_count end,
               case when e.kind = 'task.started' then n.worker_id
                    when e.kind = 'task.hedged' then n.hedge_worker_id end,
               case e.kind
                   when 'task.retrying' then jsonb_build_object(
                       'error', n.error, 'available_at', n.available_at)
                   when 'task.failed' then jsonb_build_object('error', n.error)
                   else '{}'::jsonb end
        from new_tasks n
        join old_tasks o on o.task_id = n.task_id
        cross join lateral (select case
            when o.status = 'queued' and n.status = 'started' then 'task.started'
            when n.status = 'started' and o.hedge_token is null
                 and n.hedge_token is not null then 'task.hedged'
            when n.status = 'completed' then 'task.completed'
            when o.status = 'started' and n.status = 'queued'
                 and n.attempts_count < o.attempts_count then 'task.released'
            when o.status in ('started', 'waiting') and n.status = 'queued' then 'task.retrying'
            when n.status = 'failed' then 'task.failed'
            end as kind) e
        where e.kind is not null
          and (n.status <> o.status or n.hedge_token is distinct from o.hedge_token)
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
