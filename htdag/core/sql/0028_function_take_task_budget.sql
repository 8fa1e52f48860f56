-- Counts new tasks against a root run's budget (max_tasks; null: no limit, and
-- nothing is written). Returns false, counting nothing, when they would exceed it.
create or replace function htdag._take_task_budget(p_root_run_id uuid, p_count int)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
    update htdag.runs
    set tasks_created = tasks_created + p_count
    where run_id = p_root_run_id and max_tasks is not null
      and tasks_created + p_count <= max_tasks;
    if found then
        return true;
    end if;
    return exists (select 1 from htdag.runs where run_id = p_root_run_id and max_tasks is null);
end;
$$;
