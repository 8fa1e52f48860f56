-- Definitions: a flow is stored once per content hash, with its steps and the
-- dependencies between them. Written by add_flow only, never changed after.

create table htdag.flows (
    flow_hash text primary key,
    name text not null,
    definition jsonb not null,
    created_at timestamptz not null default now()
);

create table htdag.steps (
    flow_hash text not null references htdag.flows (flow_hash) on delete cascade,
    step_name text not null,
    step_index int not null,
    kind htdag.step_kind not null default 'single',
    handler text not null,
    deps_count int not null default 0 check (deps_count >= 0),
    max_attempts int not null default 3 check (max_attempts >= 1),
    base_delay double precision not null default 1 check (base_delay >= 0),
    max_delay double precision not null default 300 check (max_delay >= 0),
    timeout double precision check (timeout is null or timeout > 0),
    priority int not null default 0,
    -- Tasks of one key run at most concurrency_limits.max_running at a time, over
    -- every worker.
    concurrency_key text,
    -- Error fingerprints (htdag.error_fingerprint) that fail the task at once:
    -- errors that failed again on every retry (the optimizer's retries learner).
    fail_fast text[],
    -- At most this share of the handler's recent attempts may be retries.
    retry_budget double precision check (retry_budget > 0 and retry_budget <= 1),
    -- A task still running after this many seconds may get a second, hedged
    -- execution in another slot (hedge_straggler, claim_tasks); the first
    -- outcome wins.
    hedge_after double precision check (hedge_after > 0),
    primary key (flow_hash, step_name),
    unique (flow_hash, step_index),
    -- a map step's tasks are the elements of one array: its dependency's output
    -- or the run's input
    constraint map_has_at_most_one_dep check (kind = 'single' or deps_count <= 1)
);

create table htdag.deps (
    flow_hash text not null,
    step_name text not null,
    dep_name text not null,
    primary key (flow_hash, step_name, dep_name),
    foreign key (flow_hash, step_name) references htdag.steps (flow_hash, step_name)
        on delete cascade,
    foreign key (flow_hash, dep_name) references htdag.steps (flow_hash, step_name)
        on delete cascade,
    constraint no_self_dependency check (step_name <> dep_name)
);

-- Engine settings that SQL reads; see htdag.notifications.set_event_level.
create table htdag.settings (
    key text primary key,
    value jsonb not null
);
insert into htdag.settings (key, value) values ('task_events', 'true'),
    ('attempt_retention_days', '30');

-- How many tasks of a concurrency key may run at once, over every worker
-- (claim_tasks enforces it). A key without a row has no limit.
create table htdag.concurrency_limits (
    key text primary key,
    max_running int not null check (max_running >= 1),
    updated_at timestamptz not null default now()
);
