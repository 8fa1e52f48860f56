-- What a decomposition cost: its attempts (each model answer with the
-- validator's errors), tokens, cost and model time, and the model.
alter table htdag.decompositions
    add column attempts int not null default 1 check (attempts >= 1),
    add column attempt_log jsonb not null default '[]',
    add column model text,
    add column prompt_tokens int check (prompt_tokens >= 0),
    add column completion_tokens int check (completion_tokens >= 0),
    add column cost_usd double precision check (cost_usd >= 0),
    add column model_ms double precision check (model_ms >= 0);
