-- Takes p_count tasks from a root run's task budget: true if they fit (or the
-- run has no budget), false otherwise, and then nothing is taken.
-- Invariant: runs.tasks_created never exceeds runs.max_tasks. Only a limited
-- budget is written (locks the root run's row).
create or replace function htdag._take_task_budget(p_root_run_id uuid, p_count int)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
    v_max int;
begin
    select max_tasks into v_max from htdag.runs where run_id = p_root_run_id;
    if v_max is null then
        return true;
    end if;
    update htdag.runs
    set tasks_created = tasks_created + p_count
    where run_id = p_root_run_id and tasks_created + p_count <= max_tasks;
    return found;
end;
$$;
