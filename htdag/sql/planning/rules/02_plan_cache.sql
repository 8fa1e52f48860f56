-- The plan cache learns from runs: a decomposition's run claims the plan it
-- executes, and the run's end settles the entry (see _plan_cache_settle).
create or replace trigger plan_cache_link after insert on htdag.decompositions
    for each row when (new.run_id is not null)
    execute function htdag._plan_cache_link();

create or replace trigger runs_plan_cache_outcome after update of status on htdag.runs
    for each row when (old.status is distinct from new.status and new.status <> 'running')
    execute function htdag._plan_cache_run_ended();
