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
-- task waiting for it without a retry, which would hit the limit again.
create type htdag.error_code as enum ('limit_reached');
