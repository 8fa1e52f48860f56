-- The state rules of a step state (step_states_state_rules): a status has the
-- columns it needs, and counters are never negative. Refuses a row that breaks
-- one (_refuse_row). Immutable and without a SET clause, as _run_state_ok.
create or replace function htdag._step_state_ok(
    p_status htdag.step_status, p_remaining_deps int, p_remaining_tasks int,
    p_initial_tasks int, p_output jsonb, p_error text, p_started_at timestamptz,
    p_completed_at timestamptz, p_failed_at timestamptz)
returns boolean
language plpgsql
immutable
as $$
begin
    if p_remaining_deps < 0 then
        return htdag._refuse_row('step_states', 'step_states_remaining_deps_check',
            'remaining_deps is never negative');
    elsif p_remaining_tasks < 0 then
        return htdag._refuse_row('step_states', 'step_states_remaining_tasks_check',
            'remaining_tasks is never negative');
    elsif p_initial_tasks < 0 then
        return htdag._refuse_row('step_states', 'step_states_initial_tasks_check',
            'initial_tasks is never negative');
    elsif p_status in ('started', 'completed')
          and (p_started_at is null or p_initial_tasks is null) then
        return htdag._refuse_row('step_states', 'started_has_tasks',
            'a started or completed step has started_at and initial_tasks');
    elsif (p_status = 'completed') <> (p_completed_at is not null)
          or (p_status = 'completed'
              and (p_output is null or p_remaining_tasks is distinct from 0)) then
        return htdag._refuse_row('step_states', 'completed_has_output',
            'a step is completed exactly when it has completed_at; then it has an output and no remaining tasks');
    elsif (p_status = 'failed') <> (p_failed_at is not null)
          or (p_status = 'failed' and p_error is null) then
        return htdag._refuse_row('step_states', 'failed_has_error',
            'a step is failed exactly when it has failed_at; then it has an error');
    end if;
    return true;
end;
$$;
