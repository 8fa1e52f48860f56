-- The optimizer's decisions, recorded with the flow version they produced.
create table htdag.optimizer_decisions (
    decision_id bigint generated always as identity primary key,
    flow_hash text references htdag.flows (flow_hash) on delete cascade,
    run_id uuid references htdag.runs (run_id) on delete set null,
    task text,  -- the graph's task id (its step), null for a concurrency key's limit
    handler text,
    concurrency_key text,
    kind text not null check (kind in ('timeout', 'retries', 'concurrency', 'priority',
                                       'hedge', 'restructure')),
    level text not null check (level in ('basic', 'advanced', 'aggressive')),
    applied boolean not null,
    value jsonb,
    static jsonb,
    reason text not null,
    evidence jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now()
);
create index optimizer_decisions_flow_idx on htdag.optimizer_decisions (flow_hash, decision_id);
create index optimizer_decisions_key_idx on htdag.optimizer_decisions (concurrency_key, decision_id)
    where concurrency_key is not null;
