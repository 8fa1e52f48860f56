-- subgoal.completed and subgoal.failed: when a child run (a subgoal) ends, its
-- parent run says so, beside the child's own run.<status> event. A cancelled
-- child counts as failed ({"cancelled": true}). The event is the parent's (run
-- id, root), like subgoal.submitted, and names the child.
create or replace function htdag._run_event()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        perform htdag._append_event(
            'run.started', new.run_id, new.root_run_id, null, null,
            jsonb_build_object('flow_hash', new.flow_hash, 'parent_run_id', new.parent_run_id));
        return null;
    end if;
    perform htdag._append_event(
        'run.' || new.status::text, new.run_id, new.root_run_id, null, null,
        case new.status when 'failed' then jsonb_build_object('error', new.error)
                        else '{}'::jsonb end);
    if new.parent_run_id is not null and new.status <> 'running' then
        perform htdag._append_event(
            case new.status when 'completed' then 'subgoal.completed'
                            else 'subgoal.failed' end,
            new.parent_run_id, new.root_run_id, null, null,
            jsonb_strip_nulls(jsonb_build_object(
                'child_run_id', new.run_id, 'parent_task_id', new.parent_task_id,
                'error', new.error,
                'cancelled', case when new.status = 'cancelled' then true end)));
    end if;
    return null;
end;
$$;
