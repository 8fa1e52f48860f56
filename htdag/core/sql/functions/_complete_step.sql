-- Completes a started step with its output, then does what follows
-- (_step_completed), with p_offer for the tasks that makes ready; returns what
-- it made ready. A step no longer started is left alone.
create or replace function htdag._complete_step(p_run_id uuid, p_step_name text, p_output jsonb,
                                                p_offer htdag.task_offer default null)
returns htdag.made_ready
language plpgsql
set search_path = ''
as $$
declare
    v_nothing htdag.made_ready := row('{}', '{}');
    v_flow_hash text;
begin
    update htdag.step_states
    set status = 'completed', output = p_output, remaining_tasks = 0, completed_at = now()
    where run_id = p_run_id and step_name = p_step_name and status = 'started'
    returning flow_hash into v_flow_hash;
    if not found then
        return v_nothing;
    end if;
    return htdag._step_completed(p_run_id, p_step_name, v_flow_hash, p_offer);
end;
$$;
