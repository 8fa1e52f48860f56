-- What the optimizer learns from and applies: a lost lease is its own attempt
-- outcome ('lost'; 'timed_out' is now a step's timeout running out), attempts
-- keep their concurrency key, steps carry a concurrency key, the error
-- fingerprints that fail at once and a retry budget, and a key's limit is
-- enforced by the claim across every worker.
alter type htdag.error_code add value if not exists 'timed_out';
alter table htdag.attempts drop constraint attempts_outcome_check;
update htdag.attempts set outcome = 'lost' where outcome = 'timed_out';
alter table htdag.attempts add constraint attempts_outcome_check
    check (outcome in ('completed', 'failed', 'timed_out', 'lost', 'released', 'cancelled'));
alter table htdag.attempts add column concurrency_key text;
alter table htdag.steps add column concurrency_key text,
    add column fail_fast text[],
    add column retry_budget double precision check (retry_budget > 0 and retry_budget <= 1);
alter table htdag.tasks add column concurrency_key text;
create table htdag.concurrency_limits (
    key text primary key,
    max_running int not null check (max_running >= 1),
    updated_at timestamptz not null default now()
);
create index tasks_key_started_idx on htdag.tasks (concurrency_key)
    where concurrency_key is not null and status = 'started';
create index attempts_key_idx on htdag.attempts (concurrency_key, finished_at desc)
    where concurrency_key is not null;
create index attempts_finished_idx on htdag.attempts using brin (finished_at);
insert into htdag.settings (key, value) values ('attempt_retention_days', '30')
    on conflict (key) do nothing;
