-- Counts a hit of an entry (hits, last_used_at; the entry's version for the
-- processes' indexes is unchanged) and links the plan served, p_graph, so that
-- the outcome of the run executing it is counted for the entry (see
-- _plan_cache_settle). p_score is the hit's similarity (1 for an exact hit).
create or replace function htdag.plan_cache_hit(p_entry_id bigint, p_graph jsonb,
                                                p_score double precision)
returns void
language sql
set search_path = ''
as $$
    update htdag.plan_cache set hits = hits + 1, last_used_at = now()
     where entry_id = p_entry_id;
    insert into htdag.plan_cache_runs (entry_id, graph_md5, score)
    select p_entry_id, md5(p_graph::text), p_score;
$$;
