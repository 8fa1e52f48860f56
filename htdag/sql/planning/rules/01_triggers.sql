-- The planning layer's events from the core's tables. Fires after the core's
-- runs_status_events (triggers fire in name order), so a child's run.<status>
-- comes before its parent's subgoal.<end>.
create or replace trigger runs_subgoal_events after update of status on htdag.runs
    for each row when (new.parent_run_id is not null and old.status is distinct from new.status
                       and new.status <> 'running')
    execute function htdag._subgoal_event();
