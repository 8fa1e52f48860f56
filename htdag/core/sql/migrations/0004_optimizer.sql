-- What the optimizer learns from and applies: a lost lease is its own attempt
-- outcome ('lost'; 'timed_out' is now a step's timeout running out), attempts
-- keep their concurrency key, steps carry a concurrency key, the error
-- fingerprints that fail at once and a retry budget, and a key's limit is
-- enforced by the claim across every worker. A step's hedge_after lets a
-- task still running after that many seconds get a second, hedged execution
-- in another slot: the first outcome wins. An attempt records how long its
-- handler ran, as its worker measured (run_seconds: without the claim and the
-- report around it, the clock a step's timeout and hedge_after count on).
alter type htdag.error_code add value if not exists 'timed_out';
alter table htdag.attempts drop constraint attempts_outcome_check;
update htdag.attempts set outcome = 'lost' where outcome = 'timed_out';
alter table htdag.attempts add constraint attempts_outcome_check
    check (outcome in ('completed', 'failed', 'timed_out', 'lost', 'released', 'cancelled'));
alter table htdag.attempts add column concurrency_key text,
    add column hedge text check (hedge in ('won', 'lost')),
    add column run_seconds double precision check (run_seconds >= 0);
alter table htdag.steps add column concurrency_key text,
    add column fail_fast text[],
    add column retry_budget double precision check (retry_budget > 0 and retry_budget <= 1),
    add column hedge_after double precision check (hedge_after > 0);
alter table htdag.tasks add column concurrency_key text,
    add column hedge_after double precision,
    add column hedge_token uuid,
    add column hedge_worker_id uuid,
    add column hedge_started_at timestamptz;
create table htdag.concurrency_limits (
    key text primary key,
    max_running int not null check (max_running >= 1),
    updated_at timestamptz not null default now()
);
create index tasks_key_started_idx on htdag.tasks (concurrency_key)
    where concurrency_key is not null and status = 'started';
create index tasks_hedgeable_idx on htdag.tasks (started_at)
    where hedge_after is not null and hedge_token is null and status = 'started';
create index tasks_hedged_idx on htdag.tasks (handler)
    where hedge_token is not null and status = 'started';
create index attempts_key_idx on htdag.attempts (concurrency_key, finished_at desc)
    where concurrency_key is not null;
create index attempts_finished_idx on htdag.attempts using brin (finished_at);
insert into htdag.settings (key, value) values ('attempt_retention_days', '30')
    on conflict (key) do nothing;
