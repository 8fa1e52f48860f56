-- The state machine's rules: one CHECK per table, which calls that table's rule
-- function (functions/_run_state_ok.sql and the like) with the columns the
-- rules read. A row that breaks a rule is refused with SQLSTATE 23514
-- (check_violation) naming the rule as its constraint.
--
-- One function call and not a CHECK per rule: PostgreSQL re-reads and
-- re-prepares every CHECK expression of a table in every statement that writes
-- it, and nine constraints' expression trees cost about a sixth of the backend's
-- time in a chain of one-task steps; one call costs about a microsecond per row.

alter table htdag.runs add constraint runs_state_rules check (htdag._run_state_ok(
    status, remaining_steps, depth, max_tasks, output, error, completed_at, failed_at,
    cancelled_at));

alter table htdag.step_states add constraint step_states_state_rules check (
    htdag._step_state_ok(status, remaining_deps, remaining_tasks, initial_tasks, output, error,
                         started_at, completed_at, failed_at));

alter table htdag.tasks add constraint tasks_state_rules check (htdag._task_state_ok(
    status, task_index, attempts_count, max_attempts, output, error, completed_at, failed_at,
    cancelled_at, claim_token, lease_expires_at, waiting_for_run_id));
