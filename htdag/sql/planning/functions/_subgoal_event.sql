-- Trigger (runs, after a child run's status changes to an end): the parent run
-- says its subgoal ended, beside the child's own run.<status> event:
-- subgoal.completed or subgoal.failed (a cancelled child counts as failed, with
-- {"cancelled": true}), an event of the parent's that names the child.
create or replace function htdag._subgoal_event()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    perform htdag._append_event(
        case new.status when 'completed' then 'subgoal.completed' else 'subgoal.failed' end,
        new.parent_run_id, new.root_run_id, null, null,
        jsonb_strip_nulls(jsonb_build_object(
            'child_run_id', new.run_id, 'parent_task_id', new.parent_task_id,
            'error', new.error,
            'cancelled', case when new.status = 'cancelled' then true end)));
    return null;
end;
$$;
