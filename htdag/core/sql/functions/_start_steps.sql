-- Starts steps of a run whose dependencies are done: marks them started (those
-- in p_started already are) and creates their tasks (_create_tasks). A map step
-- over an empty array completes at once; one over something else than an array
-- fails the run, and tasks over the root run's budget fail it.
-- Tasks that fit p_offer are created started for its worker; the others are
-- queued. Returns both (htdag.made_ready). Without an offer, it announces what it
-- queued itself (NOTIFY htdag_tasks, to every worker); with one, its caller
-- announces what the offer's worker does not claim.
create or replace function htdag._start_steps(p_run_id uuid, p_step_names text[],
                                   p_started text[] default '{}',
                                   p_offer htdag.task_offer default null)
returns htdag.made_ready
language plpgsql
set search_path = ''
as $$
declare
    v_run htdag.runs;
    v_step htdag.steps;
    v_elements jsonb;  -- what a map step maps over
    v_count int;
    v_within_budget boolean;
    v_ids bigint[];
    v_next htdag.made_ready;
    v_made htdag.made_ready := row('{}', '{}');
begin
    select * into v_run from htdag.runs where run_id = p_run_id;
    for v_step in
        select * from htdag.steps
        where flow_hash = v_run.flow_hash and step_name = any (p_step_names)
        order by step_index
    loop
        v_count := 1;
        if v_step.kind = 'map' then
            v_elements := htdag._map_elements(v_run, v_step);
            if jsonb_typeof(v_elements) is distinct from 'array' then
                perform htdag._fail_run(p_run_id, v_step.step_name, null, format(
                    'map step %L needs an array as input, got %s; make %s return a list',
                    v_step.step_name, coalesce(jsonb_typeof(v_elements), 'nothing'),
                    case when v_step.deps_count = 0 then 'the run input'
                         else 'its dependency' end));
                return v_made;
            end if;
            v_count := jsonb_array_length(v_elements);
        end if;

        if not v_step.step_name = any (p_started) then
            update htdag.step_states
            set status = 'started', started_at = now(), remaining_tasks = v_count,
                initial_tasks = v_count
            where run_id = p_run_id and step_name = v_step.step_name;
        end if;

        -- (A root run without a task budget has none to take: no call, no read.)
        v_within_budget := true;
        if v_count > 0 and (v_run.max_tasks is not null or v_run.root_run_id <> p_run_id) then
            v_within_budget := htdag._take_task_budget(v_run.root_run_id, v_count);
        end if;
        if not v_within_budget then
            perform htdag._fail_run(p_run_id, v_step.step_name, null, format(
                'task budget exceeded: step %L needs %s tasks, over the maximum for its root '
                'run %s; raise max_tasks or plan a smaller graph',
                v_step.step_name, v_count, v_run.root_run_id), 'limit_reached');
            return v_made;
        end if;

        if v_count = 0 then
            v_next := htdag._complete_step(p_run_id, v_step.step_name, '[]'::jsonb, p_offer);
        else
            v_ids := htdag._create_tasks(v_run, v_step, v_elements, v_count, p_offer);
            v_next := row(v_ids, case when cardinality(v_ids) < v_count
                                      then array[v_step.handler] else '{}' end);
        end if;
        v_made := row(v_made.taken || v_next.taken,
                      v_made.queued_handlers || v_next.queued_handlers);
        if p_offer.worker_id is not null then
            p_offer.room := p_offer.room - cardinality(v_next.taken);
        end if;
    end loop;
    if p_offer.worker_id is null and cardinality(v_made.queued_handlers) > 0 then
        perform pg_notify('htdag_tasks', '');
    end if;
    return v_made;
end;
$$;
