-- The reaper, run by every claim: a started task whose lease expired lost its
-- worker (it died, or stopped heartbeating). That attempt is spent and recorded
-- ('lost'), and the task is retried or, at max_attempts, failed, with an
-- error that says how often its workers were lost. Returns how many it reaped.
-- What it requeues is announced to every worker (_fail_task).
-- Locks: the expired tasks (skip locked).
-- Planner setting: enable_seqscan = off, so that it reads tasks_lease_idx even
-- with a plan cached while the tables were small
-- (tests/integration/sql/planner_settings/test_reap_expired_tasks_reads_the_lease_index_after_a_burst.py
-- shows the seq scan and sort of every task it prevents).
create or replace function htdag._reap_expired_tasks()
returns int
language plpgsql
set search_path = ''
set enable_seqscan = off
as $$
declare
    v_task_id bigint;
    v_count int := 0;
    v_lost bigint;
    v_recorded boolean;
begin
    for v_task_id in
        select task_id from htdag.tasks
        where status = 'started' and lease_expires_at < now()
        order by lease_expires_at
        limit 100
        for update skip locked
    loop
        -- An attempt counts from its start: one whose worker died or went silent is
        -- spent, so a task that kills its workers stops at max_attempts.
        select count(*) + 1 into v_lost from htdag.attempts a
        where a.task_id = v_task_id and a.outcome = 'lost';
        v_recorded := htdag._fail_task(v_task_id,
            format('lease expired: the worker running it died or went silent '
                   '(%s time%s for this task)', v_lost, case when v_lost = 1 then '' else 's' end),
            true, 'lost');
        if v_recorded then
            v_count := v_count + 1;
        end if;
    end loop;
    return v_count;
end;
$$;
