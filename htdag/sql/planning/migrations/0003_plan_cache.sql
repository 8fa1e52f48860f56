-- The plan cache: task graphs of goals seen before, served again for the same
-- goal or a similar one (htdag.decomposers.PlanCache), shared by every process.
-- An entry is 'pending' from its decomposition until its run completes, then
-- 'active' (served); 'rejected' when that run failed; 'disabled' when the runs
-- it served failed; 'replaced' by a later plan of the same goal. A put over
-- the cache's size limit deletes the least useful entries (plan_cache_evict).
create type htdag.plan_cache_state as enum ('pending', 'active', 'rejected', 'disabled',
                                            'replaced');

create table htdag.plan_cache (
    entry_id bigint generated always as identity primary key,
    state htdag.plan_cache_state not null default 'active',
    goal text not null,
    goal_key text not null,            -- sha256 of the normalised goal: exact matches
    normalised_goal text not null,
    template text not null,            -- canonical words, values as <kind>
    signature text not null,           -- goals with other signatures never match
    slots jsonb not null,              -- the goal's values: [{kind, text, role}]
    graph jsonb not null,
    handlers jsonb not null,           -- {handler: schema fingerprint or null}
    catalogue_fp text,
    hits bigint not null default 0,
    successes int not null default 0 check (successes >= 0),
    failures int not null default 0 check (failures >= 0),
    min_score double precision not null default 0,  -- raised by failed runs of hits
    source_run_id uuid,
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    -- The transaction that last changed the entry: processes refresh their index
    -- from the entries changed since the oldest transaction they could not see.
    changed_tx xid8 not null default pg_current_xact_id()
);
create index plan_cache_goal_key_idx on htdag.plan_cache (goal_key);
create index plan_cache_changed_idx on htdag.plan_cache (changed_tx);

-- A plan handed out (a pending entry's, or a hit's re-bound graph) awaiting the
-- run that executes it: matched to the run by the graph's hash when the
-- decomposition is recorded, settled when the run ends.
create table htdag.plan_cache_runs (
    link_id bigint generated always as identity primary key,
    entry_id bigint not null references htdag.plan_cache (entry_id) on delete cascade,
    graph_md5 text not null,
    score double precision not null,
    run_id uuid,
    created_at timestamptz not null default now()
);
create index plan_cache_runs_graph_idx on htdag.plan_cache_runs (graph_md5) where run_id is null;
create index plan_cache_runs_run_idx on htdag.plan_cache_runs (run_id) where run_id is not null;
create index plan_cache_runs_entry_idx on htdag.plan_cache_runs (entry_id);
create index plan_cache_runs_unclaimed_idx on htdag.plan_cache_runs (created_at)
    where run_id is null;

-- Entries evicted (deleted) by the size limit, kept a day: processes drop them
-- from their index at their next refresh (see plan_cache_changes).
create table htdag.plan_cache_evictions (
    entry_id bigint primary key,
    evicted_at timestamptz not null default now(),
    changed_tx xid8 not null default pg_current_xact_id()
);
create index plan_cache_evictions_changed_idx on htdag.plan_cache_evictions (changed_tx);
create index plan_cache_evictions_at_idx on htdag.plan_cache_evictions (evicted_at);

-- One row: entries evicted since the cache was made (for stats), and the
-- entries counted at the last eviction with the highest entry id then (so that
-- a put under the limit needs no count). Its lock serialises evictions.
create table htdag.plan_cache_totals (
    id boolean primary key default true check (id),
    evictions bigint not null default 0 check (evictions >= 0),
    counted bigint,
    counted_upto bigint
);
