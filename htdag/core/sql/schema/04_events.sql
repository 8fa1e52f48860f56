-- The event log: one row per state change, appended by the triggers of
-- rules/02_triggers.sql (the single emitter of the core's events: transition
-- functions know nothing of events); layers above append their own kinds.
--
-- Readers order events by (tx_id, event_id) and read only events of
-- transactions older than every running one (pg_snapshot_xmin): an identity
-- value is taken at insert, not at commit, so a reader that went by event_id
-- alone could pass an id that a slower transaction commits later, and lose it.
-- That stream order is the primary key.
create table htdag.events (
    event_id bigint generated always as identity,
    tx_id xid8 not null default pg_current_xact_id(),
    kind text not null check (kind ~ '^[a-z_]+\.[a-z_]+$'),
    run_id uuid,
    root_run_id uuid,
    step_name text,
    task_index int,
    created_at timestamptz not null default clock_timestamp(),
    data jsonb not null default '{}'::jsonb,
    attempt int,  -- task events: the attempt
    worker_id uuid,  -- task and worker events: the worker
    primary key (tx_id, event_id)
);
-- Nothing filters on data: skip its statistics (halves each ANALYZE).
alter table htdag.events alter column data set statistics 0;
