-- The triggers that append events: the single emitter of run, step, task,
-- attempt and worker events. Transition functions write their tables; these
-- turn the writes into events (functions/_run_event.sql and the like).

create trigger runs_insert_events after insert on htdag.runs
    for each row execute function htdag._run_event();
create trigger runs_status_events after update of status on htdag.runs
    for each row when (old.status is distinct from new.status)
    execute function htdag._run_event();

create trigger step_states_status_events after update of status on htdag.step_states
    for each row when (old.status is distinct from new.status
                       and new.status in ('started', 'completed', 'failed'))
    execute function htdag._step_event();

-- A task created already started (a push at start) has its task.started event
-- here; every other change of tasks goes through one statement trigger.
create trigger tasks_insert_started_events after insert on htdag.tasks
    for each row when (new.status = 'started')
    execute function htdag._task_started_event();
create trigger tasks_update_events after update on htdag.tasks
    referencing old table as old_tasks new table as new_tasks
    for each statement execute function htdag._task_events();

create trigger attempts_timed_out_events after insert on htdag.attempts
    for each row when (new.outcome in ('timed_out', 'lost'))
    execute function htdag._attempt_event();

create trigger workers_insert_events after insert on htdag.workers
    for each row execute function htdag._worker_event();
create trigger workers_end_events after update of stopped_at, lost_at on htdag.workers
    for each row when ((new.stopped_at is not null and old.stopped_at is null)
                       or (new.lost_at is not null and old.lost_at is null))
    execute function htdag._worker_event();
