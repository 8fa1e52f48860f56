-- The htdag schema and its status enums (mirrored by htdag.core.status).

create schema if not exists htdag;

create type htdag.run_status as enum ('running', 'completed', 'failed', 'cancelled');
create type htdag.step_kind as enum ('single', 'map');
create type htdag.step_status as enum ('created', 'started', 'completed', 'failed', 'cancelled');
-- waiting: the task's handler started a child run and its output will be the child's.
create type htdag.task_status as enum ('queued', 'started', 'waiting', 'completed', 'failed',
                                       'cancelled');
-- What stopped a failed run, where it decides what happens next: a run stopped by
-- a limit (its tree's task budget, or a depth limit its handler hit) fails the
-- task waiting for it without a retry, which would hit the limit again. A run
-- stopped by a step's timeout running out on its last attempt: timed_out.
create type htdag.error_code as enum ('limit_reached', 'timed_out');
-- Free slots a worker offers to the transition that makes tasks ready: tasks that
-- fit are created started for it, written once, and need no claim (a worker's
-- exchange offers what it would claim; a run's start, an idle worker's slots).
-- handlers null: any handler.
create type htdag.task_offer as (worker_id uuid, room int, lease_seconds double precision,
                                 handlers text[]);
-- What a transition made ready: the tasks it created started for the offer's
-- worker (ids, in creation order), and the handlers of the tasks it queued.
create type htdag.made_ready as (taken bigint[], queued_handlers text[]);
