-- Applies the end of run p_run_id (p_status: completed, failed or cancelled) to
-- the cache entries whose plans it executed, and drops their links. Completed:
-- a pending entry becomes active (replacing older active ones of its goal and
-- catalogue) and successes grow. Failed: a pending entry is rejected (never
-- served); an active one counts a failure, no longer serves goals as far from
-- it as the failed hit was (min_score), and is disabled once its failures are
-- two or more and outnumber its successes. Cancelled: a pending entry is
-- rejected. Lock order: runs (the caller's), then plan_cache rows.
create or replace function htdag._plan_cache_settle(p_run_id uuid, p_status text)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v record;
begin
    for v in delete from htdag.plan_cache_runs where run_id = p_run_id
             returning entry_id, score loop
        if p_status = 'completed' then
            update htdag.plan_cache e
               set successes = successes + 1, source_run_id = coalesce(source_run_id, p_run_id),
                   state = 'active', changed_tx = case when state = 'pending'
                       then pg_current_xact_id() else changed_tx end
             where e.entry_id = v.entry_id and e.state in ('pending', 'active');
            update htdag.plan_cache o set state = 'replaced', changed_tx = pg_current_xact_id()
              from htdag.plan_cache e
             where e.entry_id = v.entry_id and o.goal_key = e.goal_key
               and o.catalogue_fp is not distinct from e.catalogue_fp
               and o.state = 'active' and o.entry_id < e.entry_id;
        elsif p_status = 'failed' then
            update htdag.plan_cache
               set failures = failures + 1, changed_tx = pg_current_xact_id(),
                   min_score = case when v.score < 1
                       then greatest(min_score, least(v.score + 0.01, 1.0)) else min_score end,
                   state = case
                       when state = 'pending' then 'rejected'
                       when failures + 1 >= 2 and failures + 1 > successes then 'disabled'
                       else state end::htdag.plan_cache_state
             where entry_id = v.entry_id;
        else
            update htdag.plan_cache set state = 'rejected', changed_tx = pg_current_xact_id()
             where entry_id = v.entry_id and state = 'pending';
        end if;
    end loop;
end;
$$;
