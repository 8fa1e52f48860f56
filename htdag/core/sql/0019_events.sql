-- The event log: one row per state change, appended by the triggers in
-- 0020-0024 (the single emitter: transition functions know nothing of events).
--
-- Readers order events by (tx_id, event_id) and read only events of
-- transactions older than every running one (pg_snapshot_xmin): an identity
-- value is taken at insert, not at commit, so a reader that went by event_id
-- alone could pass an id that a slower transaction commits later, and lose it.
create table htdag.events (
    event_id bigint generated always as identity primary key,
    tx_id xid8 not null default pg_current_xact_id(),
    kind text not null check (kind ~ '^[a-z_]+\.[a-z_]+$'),
    run_id uuid,
    root_run_id uuid,
    step_name text,
    task_index int,
    created_at timestamptz not null default clock_timestamp(),
    data jsonb not null default '{}'::jsonb
);
create index events_position_idx on htdag.events (tx_id, event_id);
create index events_root_idx on htdag.events (root_run_id, tx_id, event_id)
    where root_run_id is not null;
-- Only prune_events reads by time, and events arrive in time order: a BRIN
-- index serves it at a fraction of a b-tree's cost per insert.
create index events_created_idx on htdag.events using brin (created_at);
-- Nothing filters on data: skip its statistics (halves each ANALYZE).
alter table htdag.events alter column data set statistics 0;

-- Engine settings that SQL reads; see htdag.notifications.set_event_level.
create table htdag.settings (
    key text primary key,
    value jsonb not null
);
insert into htdag.settings (key, value) values ('task_events', 'true');
