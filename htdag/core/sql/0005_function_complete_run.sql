-- A run's output is an object of its leaf steps' outputs (steps nothing
-- depends on), keyed by step name.
create or replace function htdag._complete_run(p_run_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
begin
    update htdag.runs r
    set status = 'completed', completed_at = now(),
        output = (
            select coalesce(jsonb_object_agg(ss.step_name, ss.output), '{}'::jsonb)
            from htdag.step_states ss
            where ss.run_id = p_run_id
              and not exists (select 1 from htdag.deps d
                              where d.flow_hash = ss.flow_hash and d.dep_name = ss.step_name))
    where r.run_id = p_run_id and r.status = 'running';
    perform pg_notify('htdag_run', p_run_id::text || ':completed');
    perform htdag._resume_parent_task(p_run_id);
end;
$$;
