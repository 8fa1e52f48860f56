-- Indexes beyond the primary keys and unique constraints of the tables.

create index flows_name_idx on htdag.flows (name, created_at desc);
create index deps_dep_idx on htdag.deps (flow_hash, dep_name);

create index runs_status_idx on htdag.runs (status, started_at desc);
create index runs_flow_idx on htdag.runs (flow_hash, started_at desc);
create index runs_parent_idx on htdag.runs (parent_run_id) where parent_run_id is not null;
create index runs_root_idx on htdag.runs (root_run_id);

-- The ready set: lower task_index first, so a run with a huge map step does
-- not starve runs started after it (their first tasks have index 0).
create index tasks_queued_idx on htdag.tasks (priority desc, task_index, available_at)
    where status = 'queued';
-- Expired leases (only _reap_expired_tasks reads it). Its predicate is on the lease,
-- not on status = 'started', so that the planner never reaches a batch of started
-- tasks through it instead of through their primary keys: every claim leaves a dead
-- entry here until vacuum, and a queue makes many of them quickly.
-- A task's step and index are looked up through the unique (run_id, step_name,
-- task_index) index: no second index on the same columns to maintain.
create index tasks_lease_idx on htdag.tasks (lease_expires_at) where lease_expires_at is not null;

create index attempts_handler_idx on htdag.attempts (handler, finished_at desc);
create index attempts_key_idx on htdag.attempts (concurrency_key, finished_at desc)
    where concurrency_key is not null;
-- Only prune_attempts reads by time alone.
create index attempts_finished_idx on htdag.attempts using brin (finished_at);

-- Started tasks that may be hedged, oldest first, and the hedged ones of a
-- handler (claim_tasks: _claim_hedges and its budget).
create index tasks_hedgeable_idx on htdag.tasks (started_at)
    where hedge_after is not null and hedge_token is null and status = 'started';
create index tasks_hedged_idx on htdag.tasks (handler)
    where hedge_token is not null and status = 'started';

-- A concurrency key's running tasks (claim_tasks counts them).
create index tasks_key_started_idx on htdag.tasks (concurrency_key)
    where concurrency_key is not null and status = 'started';

-- The workers a push may go to.
create index workers_idle_idx on htdag.workers (idle_slots)
    where idle_slots > 0 and stopped_at is null and lost_at is null;

-- A run tree's events, in stream order.
create index events_root_idx on htdag.events (root_run_id, tx_id, event_id)
    where root_run_id is not null;
-- Only prune_events reads by time, and events arrive in time order: a BRIN
-- index serves it at a fraction of a b-tree's cost per insert.
create index events_created_idx on htdag.events using brin (created_at);
-- An event is found by its id through a BRIN index too: ids grow with the table.
create index events_id_idx on htdag.events using brin (event_id);
