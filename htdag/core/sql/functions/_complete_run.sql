-- Completes a running run: its output is its flow's output step's output when
-- the flow names one, else an object of its leaf steps' outputs by name. Resumes
-- the parent task waiting for it, if any.
create or replace function htdag._complete_run(p_run_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_output_step text;
begin
    select f.definition ->> 'output' into v_output_step
    from htdag.runs r join htdag.flows f on f.flow_hash = r.flow_hash
    where r.run_id = p_run_id;
    update htdag.runs r
    set status = 'completed', completed_at = now(),
        output = case
            when v_output_step is not null then
                (select ss.output from htdag.step_states ss
                 where ss.run_id = p_run_id and ss.step_name = v_output_step)
            else (
                select coalesce(jsonb_object_agg(ss.step_name, ss.output), '{}'::jsonb)
                from htdag.step_states ss
                where ss.run_id = p_run_id
                  and not exists (select 1 from htdag.deps d
                                  where d.flow_hash = ss.flow_hash and d.dep_name = ss.step_name))
            end
    where r.run_id = p_run_id and r.status = 'running';
    perform pg_notify('htdag_run', p_run_id::text || ':completed');
    perform htdag._resume_parent_task(p_run_id);
end;
$$;
