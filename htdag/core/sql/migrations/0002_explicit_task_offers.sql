-- Tasks made ready are taken for a worker by an explicit offer passed as an
-- argument (no transaction-local settings), and what was made ready is returned.
create type htdag.task_offer as (worker_id uuid, room int, lease_seconds double precision,
                                 handlers text[]);
create type htdag.made_ready as (taken bigint[], queued_handlers text[]);
