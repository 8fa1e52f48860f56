-- The planning layer: how goals became task graphs. Applied after the core's
-- schema, whose runs it refers to; the core knows nothing of it.
--
-- Every decomposition of a goal into a task graph, by whichever decomposer,
-- with the run that executed it: what the plan cache and the optimizer learn from.
-- ("if not exists": in databases of the first release the core's baseline made
-- this table and its indexes.)
create table if not exists htdag.decompositions (
    decomposition_id bigint generated always as identity primary key,
    goal text not null,
    decomposer text not null,
    graph jsonb not null,
    tasks int not null check (tasks >= 0),
    duration_ms double precision not null check (duration_ms >= 0),
    run_id uuid references htdag.runs (run_id) on delete set null,
    parent_run_id uuid,
    created_at timestamptz not null default now()
);
create index if not exists decompositions_run_idx on htdag.decompositions (run_id);
create index if not exists decompositions_created_idx on htdag.decompositions (created_at desc);
