-- Stores a plan for a goal and returns its entry's id. The same plan of the
-- same goal for the same catalogue is stored once (its entry's id is returned,
-- and a pending one made active when p_pending is false). An active entry
-- replaces the older active ones of its goal and catalogue. A pending entry
-- (p_pending) is not served until the run executing its plan completes: it
-- gets a link that the decomposition of that run claims (by the graph's hash).
-- A new entry that takes the cache over p_max_entries (null: no limit) evicts
-- the least useful others (see plan_cache_evict).
create or replace function htdag.plan_cache_put(
    p_goal text, p_goal_key text, p_normalised text, p_template text, p_signature text,
    p_slots jsonb, p_graph jsonb, p_handlers jsonb, p_catalogue_fp text, p_pending boolean,
    p_max_entries bigint)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_id bigint;
    v_state htdag.plan_cache_state;
begin
    select entry_id, state into v_id, v_state from htdag.plan_cache
     where goal_key = p_goal_key and catalogue_fp is not distinct from p_catalogue_fp
       and graph = p_graph and state in ('active', 'pending')
     order by entry_id desc limit 1
       for update;
    if v_id is null then
        insert into htdag.plan_cache (state, goal, goal_key, normalised_goal, template,
                                      signature, slots, graph, handlers, catalogue_fp)
        values (case when p_pending then 'pending' else 'active' end::htdag.plan_cache_state,
                p_goal, p_goal_key, p_normalised, p_template, p_signature, p_slots, p_graph,
                p_handlers, p_catalogue_fp)
        returning entry_id, state into v_id, v_state;
        if p_max_entries is not null then
            perform htdag.plan_cache_evict(p_max_entries, v_id);
        end if;
    elsif v_state = 'pending' and not p_pending then
        update htdag.plan_cache set state = 'active', changed_tx = pg_current_xact_id()
         where entry_id = v_id;
        v_state := 'active';
    end if;
    if v_state = 'active' then
        update htdag.plan_cache set state = 'replaced', changed_tx = pg_current_xact_id()
         where goal_key = p_goal_key and catalogue_fp is not distinct from p_catalogue_fp
           and state = 'active' and entry_id < v_id;
    end if;
    if p_pending then
        insert into htdag.plan_cache_runs (entry_id, graph_md5, score)
        values (v_id, md5(p_graph::text), 1.0);
    end if;
    -- Links no run claimed within a day (plans never run) go.
    delete from htdag.plan_cache_runs where link_id in (
        select link_id from htdag.plan_cache_runs
         where run_id is null and created_at < now() - interval '1 day'
         limit 100 for update skip locked);
    return v_id;
end;
$$;
