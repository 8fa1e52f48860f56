-- What a map step maps over: the run's input for a root step, else the output of
-- its one dependency (whatever it is: the caller checks for an array).
create or replace function htdag._map_elements(p_run htdag.runs, p_step htdag.steps)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
    if p_step.deps_count = 0 then
        return p_run.input;
    end if;
    return (select ss.output
            from htdag.deps d
            join htdag.step_states ss on ss.run_id = p_run.run_id and ss.step_name = d.dep_name
            where d.flow_hash = p_run.flow_hash and d.step_name = p_step.step_name);
end;
$$;
