-- Runtime: runs, the state of each step in a run, the tasks that execute the
-- steps, one row per finished attempt, and the workers that claim tasks.
-- Each status is tied to the columns it needs by a state rule (rules/01_state_rules.sql).
-- Counters make readiness O(1): runs.remaining_steps, step_states.remaining_deps
-- and step_states.remaining_tasks are decremented by the transaction that
-- completes a task.

create table htdag.runs (
    run_id uuid primary key default gen_random_uuid(),
    flow_hash text not null references htdag.flows (flow_hash),
    status htdag.run_status not null default 'running',
    input jsonb not null,
    output jsonb,
    error jsonb,
    remaining_steps int not null,
    -- A child run: started by the handler of parent_task_id, a task of parent_run_id.
    parent_run_id uuid references htdag.runs (run_id),
    parent_task_id bigint,
    root_run_id uuid not null,  -- the run itself for a root run
    depth int not null default 0,  -- 0 for a root run
    max_tasks int,  -- on a root run: the task budget of its tree
    tasks_created int not null default 0,  -- on a root run: tasks created in its tree
    started_at timestamptz not null default now(),
    completed_at timestamptz,
    failed_at timestamptz,
    cancelled_at timestamptz,
    error_code htdag.error_code,  -- a failed run's, when its failure has one
    -- On a root run: how many levels of child runs its tree may have (a child's
    -- start is refused below it, whoever starts it).
    max_depth int check (max_depth >= 0)
);

-- No key to htdag.steps: every write of a step state would check it, and
-- add_flow's rows are never deleted while runs of the flow exist.
create table htdag.step_states (
    run_id uuid not null references htdag.runs (run_id) on delete cascade,
    flow_hash text not null,
    step_name text not null,
    status htdag.step_status not null default 'created',
    remaining_deps int not null,
    remaining_tasks int,
    initial_tasks int,
    output jsonb,
    error text,
    created_at timestamptz not null default now(),
    started_at timestamptz,
    completed_at timestamptz,
    failed_at timestamptz,
    cancelled_at timestamptz,
    primary key (run_id, step_name)
);

create table htdag.tasks (
    task_id bigint generated always as identity primary key,
    run_id uuid not null,
    step_name text not null,
    task_index int not null,
    handler text not null,
    status htdag.task_status not null default 'queued',
    priority int not null default 0,
    attempts_count int not null default 0,
    max_attempts int not null,
    base_delay double precision not null,
    max_delay double precision not null,
    timeout double precision,
    available_at timestamptz not null default now(),
    queued_at timestamptz not null default now(),
    started_at timestamptz,
    completed_at timestamptz,
    failed_at timestamptz,
    cancelled_at timestamptz,
    claim_token uuid,  -- a claim's proof: completing or failing the task needs it
    worker_id uuid,
    lease_expires_at timestamptz,
    output jsonb,
    error text,
    waiting_for_run_id uuid,  -- the child run a waiting task's output will be
    input jsonb,  -- a map task's element; null for a single step's task
    root_run_id uuid not null,  -- its run's root, for its events
    concurrency_key text,  -- its step's
    hedge_after double precision,  -- its step's
    -- A hedged execution of the started attempt (its claim's proof, worker and
    -- start): completing or failing with either token resolves the task and
    -- rejects the other.
    hedge_token uuid,
    hedge_worker_id uuid,
    hedge_started_at timestamptz,
    unique (run_id, step_name, task_index),
    foreign key (run_id, step_name) references htdag.step_states (run_id, step_name)
        on delete cascade
);

-- One row per finished attempt: what the optimizer learns from. Outcomes:
-- completed; failed (the handler raised); timed_out (the step's timeout ran
-- out); lost (its lease expired: the worker died or went silent); released and
-- cancelled (given back, or its run cancelled).
create table htdag.attempts (
    task_id bigint not null references htdag.tasks (task_id) on delete cascade,
    attempt int not null,
    run_id uuid not null,
    step_name text not null,
    handler text not null,
    worker_id uuid,
    outcome text not null check (outcome in ('completed', 'failed', 'timed_out', 'lost',
                                             'released', 'cancelled')),
    queued_at timestamptz not null,
    started_at timestamptz not null,
    finished_at timestamptz not null default now(),
    error text,
    concurrency_key text,
    -- A hedged attempt: won when the hedged execution's outcome came first,
    -- lost when the first execution's did (worker_id is the one that came first).
    hedge text check (hedge in ('won', 'lost')),
    -- How long the handler ran, as its worker measured: without the claim and
    -- the report around it (null when not reported, as for a lost lease).
    run_seconds double precision check (run_seconds >= 0),
    primary key (task_id, attempt)
);

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
    lost_at timestamptz,  -- missed its heartbeats for a whole lease
    -- How many more tasks its last exchange could have taken: a worker with idle
    -- slots gets the tasks of a run's start pushed to it (see start_run).
    idle_slots int not null default 0 check (idle_slots >= 0),
    -- Tasks pushed to it so far; the worker sends back how many it has heard of,
    -- so that an exchange does not claim more than its free slots.
    tasks_pushed bigint not null default 0
);
