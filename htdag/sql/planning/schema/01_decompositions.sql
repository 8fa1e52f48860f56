-- The planning layer: how goals became task graphs. Applied after the core's
-- schema, whose runs it refers to; the core knows nothing of it.
--
-- Every decomposition of a goal into a task graph, by whichever decomposer,
-- with the run that executed it: what the plan cache and the optimizer learn from.
-- A model's decomposition also says what it cost: its attempts (attempt_log:
-- each answer with the validator's errors), tokens, cost (litellm's figures;
-- null when the model has no price), the time spent waiting for the model and
-- the model's name; other decomposers leave these null (one attempt).
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
    created_at timestamptz not null default now(),
    attempts int not null default 1 check (attempts >= 1),
    attempt_log jsonb not null default '[]',
    model text,
    prompt_tokens int check (prompt_tokens >= 0),
    completion_tokens int check (completion_tokens >= 0),
    cost_usd double precision check (cost_usd >= 0),
    model_ms double precision check (model_ms >= 0)
);
create index if not exists decompositions_run_idx on htdag.decompositions (run_id);
create index if not exists decompositions_created_idx on htdag.decompositions (created_at desc);
