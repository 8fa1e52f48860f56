-- A child run ended: the task waiting for it completes with the child's
-- output, or fails (retried by its own policy; a child stopped by a limit,
-- runs.error_code limit_reached, is not retried, and the code goes up with the
-- failure: a retry would hit the limit again, at every level). A parent task that is not waiting (yet) is left alone:
-- wait_for_runs resumes it when it starts waiting.
create or replace function htdag._resume_parent_task(p_child_run_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_child htdag.runs;
    v_task htdag.tasks;
begin
    select * into v_child from htdag.runs where run_id = p_child_run_id;
    if v_child.parent_task_id is null then
        return;
    end if;
    select * into v_task from htdag.tasks
    where task_id = v_child.parent_task_id and status = 'waiting'
      and waiting_for_run_id = p_child_run_id;
    if v_task.task_id is null then
        return;
    end if;
    if v_child.status = 'completed' then
        perform htdag.complete_tasks(array[v_task.task_id], array[v_task.claim_token],
                                     array[v_child.output]);
    else
        perform htdag.fail_tasks(
            array[v_task.task_id], array[v_task.claim_token],
            array[format('child run %s %s: %s', p_child_run_id, v_child.status,
                         coalesce(v_child.error ->> 'message', 'cancelled'))],
            array[v_child.error_code is distinct from 'limit_reached'],
            -- only a limit passes up: a child's timeout is not the parent's
            array[case when v_child.error_code = 'limit_reached' then v_child.error_code end]);
    end if;
end;
$$;
