-- Counts a hit of an entry (hits, last_used_at; the entry's version for the
-- processes' indexes is unchanged), links the plan served, p_graph, so that
-- the outcome of the run executing it is counted for the entry (see
-- _plan_cache_settle), and emits cache.hit with the entry, p_score (the hit's
-- similarity, 1 for an exact hit), p_exact and the first 200 characters of
-- p_goal, the goal looked up. An entry evicted meanwhile is neither counted
-- nor linked; the event is emitted all the same (the plan was served).
create or replace function htdag.plan_cache_hit(p_entry_id bigint, p_graph jsonb,
                                                p_score double precision, p_exact boolean,
                                                p_goal text)
returns void
language plpgsql
set search_path = ''
as $$
begin
    with counted as (
        update htdag.plan_cache set hits = hits + 1, last_used_at = now()
         where entry_id = p_entry_id
        returning entry_id)
    insert into htdag.plan_cache_runs (entry_id, graph_md5, score)
    select entry_id, md5(p_graph::text), p_score from counted;
    perform htdag.record_event('cache.hit', null, jsonb_build_object(
        'entry_id', p_entry_id, 'score', p_score, 'exact', p_exact,
        'goal', left(p_goal, 200)));
end;
$$;
