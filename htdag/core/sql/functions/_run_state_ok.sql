-- The state rules of a run (runs_state_rules): a status has the columns it
-- needs, and counters are never negative. Refuses a row that breaks one
-- (_refuse_row). Immutable and without a SET clause: it reads nothing but its
-- arguments, and a SET clause would cost a save and restore of settings per row.
create or replace function htdag._run_state_ok(
    p_status htdag.run_status, p_remaining_steps int, p_depth int, p_max_tasks int,
    p_output jsonb, p_error jsonb, p_completed_at timestamptz, p_failed_at timestamptz,
    p_cancelled_at timestamptz)
returns boolean
language plpgsql
immutable
as $$
begin
    if p_remaining_steps < 0 then
        return htdag._refuse_row('runs', 'runs_remaining_steps_check',
            'remaining_steps is never negative');
    elsif p_depth < 0 then
        return htdag._refuse_row('runs', 'runs_depth_check', 'depth is never negative');
    elsif p_max_tasks < 1 then
        return htdag._refuse_row('runs', 'runs_max_tasks_check',
            'max_tasks is null (no budget) or at least 1');
    elsif (p_status = 'completed') <> (p_completed_at is not null)
          or (p_status = 'completed' and (p_output is null or p_remaining_steps <> 0)) then
        return htdag._refuse_row('runs', 'completed_has_output',
            'a run is completed exactly when it has completed_at; then it has an output and no remaining steps');
    elsif (p_status = 'failed') <> (p_failed_at is not null)
          or (p_status = 'failed' and p_error is null) then
        return htdag._refuse_row('runs', 'failed_has_error',
            'a run is failed exactly when it has failed_at; then it has an error');
    elsif (p_status = 'cancelled') <> (p_cancelled_at is not null) then
        return htdag._refuse_row('runs', 'cancelled_has_time',
            'a run is cancelled exactly when it has cancelled_at');
    end if;
    return true;
end;
$$;
