-- The htdag schema: enums mirrored by htdag.core.status, definition tables,
-- runtime tables. The tables enforce the state machine: each status is tied by
-- a named CHECK constraint to the columns it needs.

create schema if not exists htdag;

create type htdag.run_status as enum ('running', 'completed', 'failed', 'cancelled');
create type htdag.step_status as enum ('created', 'started', 'completed', 'failed', 'cancelled');
-- waiting: the task's handler started a child run and its output will be the child's.
create type htdag.task_status as enum ('queued', 'started', 'waiting', 'completed', 'failed',
                                       'cancelled');
create type htdag.step_kind as enum ('single', 'map');

-- Definitions: a flow is stored once per content hash.
create table htdag.flows (
    flow_hash text primary key,
    name text not null,
    definition jsonb not null,
    created_at timestamptz not null default now()
);
create index flows_name_idx on htdag.flows (name, created_at desc);

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
    primary key (flow_hash, step_name),
    unique (flow_hash, step_index),
    constraint map_has_at_most_one_dep check (kind = 'single' or deps_count <= 1)
);

create table htdag.deps (
    flow_hash text not null,
    step_name text not null,
    dep_name text not null,
    primary key (flow_hash, step_name, dep_name),
    foreign key (flow_hash, step_name) references htdag.steps (flow_hash, step_name) on delete cascade,
    foreign key (flow_hash, dep_name) references htdag.steps (flow_hash, step_name) on delete cascade,
    constraint no_self_dependency check (step_name <> dep_name)
);
create index deps_dep_idx on htdag.deps (flow_hash, dep_name);

-- Runtime.
create table htdag.runs (
    run_id uuid primary key default gen_random_uuid(),
    flow_hash text not null references htdag.flows (flow_hash),
    status htdag.run_status not null default 'running',
    input jsonb not null,
    output jsonb,
    error jsonb,
    remaining_steps int not null check (remaining_steps >= 0),
    parent_run_id uuid references htdag.runs (run_id),
    parent_task_id bigint,  -- the task whose handler started this run (a subgoal)
    root_run_id uuid not null,
    depth int not null default 0 check (depth >= 0),  -- 0 for a root run
    max_tasks int check (max_tasks >= 1),  -- on a root run: the task budget of its tree
    tasks_created int not null default 0,  -- on a root run: tasks created in its tree
    started_at timestamptz not null default now(),
    completed_at timestamptz,
    failed_at timestamptz,
    cancelled_at timestamptz,
    constraint completed_has_output check (
        (status = 'completed') = (completed_at is not null)
        and (status <> 'completed' or (output is not null and remaining_steps = 0))),
    constraint failed_has_error check (
        (status = 'failed') = (failed_at is not null) and (status <> 'failed' or error is not null)),
    constraint cancelled_has_time check ((status = 'cancelled') = (cancelled_at is not null))
);
create index runs_status_idx on htdag.runs (status, started_at desc);
create index runs_flow_idx on htdag.runs (flow_hash, started_at desc);
create index runs_parent_idx on htdag.runs (parent_run_id) where parent_run_id is not null;
create index runs_root_idx on htdag.runs (root_run_id);

create table htdag.step_states (
    run_id uuid not null references htdag.runs (run_id) on delete cascade,
    flow_hash text not null,
    step_name text not null,
    status htdag.step_status not null default 'created',
    remaining_deps int not null check (remaining_deps >= 0),
    remaining_tasks int check (remaining_tasks >= 0),
    initial_tasks int check (initial_tasks >= 0),
    output jsonb,
    error text,
    created_at timestamptz not null default now(),
    started_at timestamptz,
    completed_at timestamptz,
    failed_at timestamptz,
    cancelled_at timestamptz,
    primary key (run_id, step_name),
    foreign key (flow_hash, step_name) references htdag.steps (flow_hash, step_name),
    constraint started_has_tasks check (
        status not in ('started', 'completed') or (started_at is not null and initial_tasks is not null)),
    constraint completed_has_output check (
        (status = 'completed') = (completed_at is not null)
        and (status <> 'completed' or (output is not null and remaining_tasks = 0))),
    constraint failed_has_error check (
        (status = 'failed') = (failed_at is not null) and (status <> 'failed' or error is not null))
);

create table htdag.tasks (
    task_id bigint generated always as identity primary key,
    run_id uuid not null references htdag.runs (run_id) on delete cascade,
    step_name text not null,
    task_index int not null check (task_index >= 0),
    handler text not null,
    status htdag.task_status not null default 'queued',
    priority int not null default 0,
    attempts_count int not null default 0 check (attempts_count >= 0),
    max_attempts int not null check (max_attempts >= 1),
    base_delay double precision not null,
    max_delay double precision not null,
    timeout double precision,
    available_at timestamptz not null default now(),
    queued_at timestamptz not null default now(),
    started_at timestamptz,
    completed_at timestamptz,
    failed_at timestamptz,
    cancelled_at timestamptz,
    claim_token uuid,
    worker_id uuid,
    lease_expires_at timestamptz,
    output jsonb,
    error text,
    unique (run_id, step_name, task_index),
    foreign key (run_id, step_name) references htdag.step_states (run_id, step_name) on delete cascade,
    waiting_for_run_id uuid,
    constraint started_has_lease check (
        (status = 'started') = (lease_expires_at is not null)
        and (status in ('started', 'waiting')) = (claim_token is not null)),
    constraint waiting_has_child check (status <> 'waiting' or waiting_for_run_id is not null),
    constraint attempts_within_limit check (attempts_count <= max_attempts),
    constraint completed_has_output check (
        (status = 'completed') = (completed_at is not null) and (status <> 'completed' or output is not null)),
    constraint failed_has_error check (
        (status = 'failed') = (failed_at is not null) and (status <> 'failed' or error is not null)),
    constraint cancelled_has_time check ((status = 'cancelled') = (cancelled_at is not null))
);
-- The ready set: lower task_index first, so a run with a huge map step does
-- not starve runs started after it (their first tasks have index 0).
create index tasks_queued_idx on htdag.tasks (priority desc, task_index, available_at)
    where status = 'queued';
-- Expired leases (only _reap_expired_tasks reads it). Its predicate is on the lease,
-- not on status = 'started', so that the planner never reaches a batch of started
-- tasks through it instead of through their primary keys: every claim leaves a dead
-- entry here until vacuum, and a queue makes many of them quickly.
create index tasks_lease_idx on htdag.tasks (lease_expires_at) where lease_expires_at is not null;
-- A task's step and index are looked up through the unique (run_id, step_name,
-- task_index) index above: no second index on the same columns to maintain.

-- One row per attempt: what the optimizer learns from.
create table htdag.attempts (
    task_id bigint not null references htdag.tasks (task_id) on delete cascade,
    attempt int not null,
    run_id uuid not null,
    step_name text not null,
    handler text not null,
    worker_id uuid,
    outcome text not null check (outcome in ('completed', 'failed', 'timed_out', 'released')),
    queued_at timestamptz not null,
    started_at timestamptz not null,
    finished_at timestamptz not null default now(),
    error text,
    primary key (task_id, attempt)
);
create index attempts_handler_idx on htdag.attempts (handler, finished_at desc);

create table htdag.workers (
    worker_id uuid primary key,
    hostname text not null,
    pid int not null,
    handlers text[] not null,
    concurrency int not null check (concurrency >= 1),
    lease_seconds double precision not null default 30 check (lease_seconds > 0),
    started_at timestamptz not null default now(),
    last_heartbeat_at timestamptz not null default now(),
    stopped_at timestamptz,
    lost_at timestamptz  -- missed its heartbeats for a whole lease
);
