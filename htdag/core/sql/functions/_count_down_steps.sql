-- Counts down the remaining tasks of steps by the tasks of each just completed
-- (p_counts; p_firsts: the output of task 0 when it is among them, a single
-- step's only task). A single step at 0 completes in the counting update itself,
-- a map step at 0 completes with its tasks' outputs in order (_complete_step);
-- what follows either starts (_step_completed), with p_offer for the tasks it
-- makes ready, less the room each start took. Returns what was made ready.
-- Lock order: step states in (run_id, step_name) order, then runs.
create or replace function htdag._count_down_steps(
    p_run_ids uuid[], p_step_names text[], p_counts int[], p_firsts jsonb[],
    p_offer htdag.task_offer)
returns htdag.made_ready
language plpgsql
set search_path = ''
as $$
declare
    v_step record;
    v_next htdag.made_ready;
    v_made htdag.made_ready := row('{}', '{}');
begin
    -- Lock the step rows in one order so concurrent batches cannot deadlock (one
    -- row is locked by the update itself).
    if cardinality(p_run_ids) > 1 then
        perform 1 from htdag.step_states ss
        join unnest(p_run_ids, p_step_names) as f(run_id, step_name)
          on ss.run_id = f.run_id and ss.step_name = f.step_name
        order by ss.run_id, ss.step_name
        for update of ss;
    end if;

    for v_step in
        update htdag.step_states ss
        -- (A single step whose count reaches 0 completes: the same test three times.)
        set remaining_tasks = ss.remaining_tasks - f.n,
            status = case when s.kind = 'single' and ss.remaining_tasks = f.n
                               and f.first is not null then 'completed' else ss.status end,
            output = case when s.kind = 'single' and ss.remaining_tasks = f.n
                               and f.first is not null then f.first else ss.output end,
            completed_at = case when s.kind = 'single' and ss.remaining_tasks = f.n
                                     and f.first is not null then now()
                                else ss.completed_at end
        from unnest(p_run_ids, p_step_names, p_counts, p_firsts)
                 as f(run_id, step_name, n, first),
             htdag.steps s
        where ss.run_id = f.run_id and ss.step_name = f.step_name and ss.status = 'started'
          and s.flow_hash = ss.flow_hash and s.step_name = ss.step_name
        returning ss.run_id, ss.step_name, ss.remaining_tasks, ss.flow_hash, ss.status
    loop
        if v_step.status = 'completed' then
            v_next := htdag._step_completed(v_step.run_id, v_step.step_name, v_step.flow_hash,
                                            p_offer);
        elsif v_step.remaining_tasks = 0 then
            v_next := htdag._complete_step(v_step.run_id, v_step.step_name, (
                select jsonb_agg(t.output order by t.task_index) from htdag.tasks t
                where t.run_id = v_step.run_id and t.step_name = v_step.step_name), p_offer);
        else
            continue;
        end if;
        v_made := row(v_made.taken || v_next.taken,
                      v_made.queued_handlers || v_next.queued_handlers);
        if p_offer.worker_id is not null then
            p_offer.room := p_offer.room - cardinality(v_next.taken);
        end if;
    end loop;
    return v_made;
end;
$$;
