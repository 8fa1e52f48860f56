-- Marks steps started (those in p_started already are) and creates their tasks;
-- a map step over an empty array completes at once, one over something else
-- than an array fails the run, and tasks over the root run's budget fail it.
-- Tasks are created started, not queued, when nothing is queued before them and
-- they fit:
-- * in a worker's exchange (htdag.claim_for: the worker, its free slots, lease and
--   handlers), for that worker; their ids are noted in htdag.claimed, which the
--   exchange returns;
-- * in a start outside any exchange (a run's start), for an idle worker, to which
--   they are pushed at once (_send_push), when the payload surely fits in a NOTIFY.
-- Otherwise they are queued and announced (_notify_tasks).
create or replace function htdag._start_steps(p_run_id uuid, p_step_names text[],
                                   p_started text[] default '{}')
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_run htdag.runs;
    v_step htdag.steps;
    v_array jsonb;
    v_count int;
    v_claim jsonb := nullif(current_setting('htdag.claim_for', true), '')::jsonb;
    v_take boolean;
    v_ids bigint[];
    v_outside boolean := coalesce(current_setting('htdag.notify_origin', true), '') = '';
    v_idle htdag.workers;  -- the idle worker a start outside any exchange pushes to
    v_looked boolean := false;
    v_small boolean;
    v_within_budget boolean;
begin
    select * into v_run from htdag.runs where run_id = p_run_id;
    for v_step in
        select * from htdag.steps
        where flow_hash = v_run.flow_hash and step_name = any (p_step_names)
        order by step_index
    loop
        if v_step.kind = 'map' then
            if v_step.deps_count = 0 then
                v_array := v_run.input;
            else
                select ss.output into v_array
                from htdag.deps d
                join htdag.step_states ss on ss.run_id = p_run_id and ss.step_name = d.dep_name
                where d.flow_hash = v_run.flow_hash and d.step_name = v_step.step_name;
            end if;
            if jsonb_typeof(v_array) is distinct from 'array' then
                perform htdag._fail_run(p_run_id, v_step.step_name, null, format(
                    'map step %L needs an array as input, got %s; make %s return a list',
                    v_step.step_name, coalesce(jsonb_typeof(v_array), 'nothing'),
                    case when v_step.deps_count = 0 then 'the run input'
                         else 'its dependency' end));
                return;
            end if;
            v_count := jsonb_array_length(v_array);
        else
            v_count := 1;
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
            return;
        end if;
        if v_count = 0 then
            perform htdag._complete_step(p_run_id, v_step.step_name, '[]'::jsonb);
            continue;
        end if;
        -- A root step's push fits a NOTIFY (8000 bytes, PUSH_PAYLOAD_MAX 7000) for sure:
        -- per task at most 300 bytes of ids and keys and its names (escaped, at worst
        -- 6 bytes a byte), plus the run input its tasks' inputs come from.
        v_small := v_outside and v_step.deps_count = 0 and v_count <= 10
                   and v_count * (300 + 6 * (octet_length(v_step.step_name)
                                             + octet_length(v_step.handler)))
                       + octet_length(v_run.input::text) <= 6500;
        if v_small and v_claim is null and not v_looked then
            v_looked := true;
            select * into v_idle from htdag.workers w
            where w.idle_slots > 0 and w.stopped_at is null and w.lost_at is null
            order by w.idle_slots desc
            limit 1
            for update skip locked;
            if found then
                v_claim := jsonb_build_object(
                    'worker', v_idle.worker_id, 'room', least(v_idle.idle_slots, 10),
                    'lease', v_idle.lease_seconds, 'handlers', to_jsonb(v_idle.handlers));
            end if;
        end if;
        -- Taken by the exchange that creates them (started for its worker), pushed to
        -- an idle worker, or queued.
        v_take := v_claim is not null and v_count <= (v_claim ->> 'room')::int
                  and (v_idle.worker_id is null or v_small)
                  and (v_claim -> 'handlers' = 'null' or v_claim -> 'handlers' ? v_step.handler)
                  and not exists (select 1 from htdag.tasks t where t.status = 'queued');
        with created as (
            insert into htdag.tasks (run_id, root_run_id, step_name, task_index, handler,
                                     priority, max_attempts, base_delay, max_delay, timeout,
                                     input, status, attempts_count, started_at, claim_token,
                                     worker_id, lease_expires_at)
            select p_run_id, v_run.root_run_id, v_step.step_name, i, v_step.handler,
                   v_step.priority,
                   v_step.max_attempts, v_step.base_delay, v_step.max_delay, v_step.timeout,
                   case when v_step.kind = 'map' then v_array -> i end,
                   case when v_take then 'started' else 'queued' end::htdag.task_status,
                   case when v_take then 1 else 0 end,
                   case when v_take then now() end,
                   case when v_take then gen_random_uuid() end,
                   case when v_take then (v_claim ->> 'worker')::uuid end,
                   case when v_take then now() + make_interval(
                       secs => (v_claim ->> 'lease')::double precision) end
            from generate_series(0, v_count - 1) as i
            returning task_id
        )
        select array_agg(task_id order by task_id) filter (where v_take) into v_ids
        from created;
        if v_take then
            v_claim := jsonb_set(v_claim, '{room}',
                                 to_jsonb((v_claim ->> 'room')::int - v_count));
        end if;
        if v_take and v_idle.worker_id is not null then
            perform htdag._send_push(v_idle.worker_id,
                                     (select jsonb_agg(to_jsonb(c))
                                      from htdag._claimed_tasks(v_ids) c), v_count);
        elsif v_take then
            perform set_config('htdag.claim_for', v_claim::text, true),
                    set_config('htdag.claimed', concat_ws(',',
                        nullif(current_setting('htdag.claimed', true), ''),
                        array_to_string(v_ids, ',')), true);
        else
            perform htdag._notify_tasks(v_step.handler);
        end if;
    end loop;
end;
$$;
