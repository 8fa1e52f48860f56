-- Trigger (decompositions, after insert): the run of a recorded decomposition
-- claims the oldest unclaimed plan cache link with the same graph, so that the
-- run's end settles that entry. If the run has ended already, settles at once.
-- The run's row is locked (share) first: its end either happened before (and is
-- seen here) or waits for this transaction (and then sees the link).
create or replace function htdag._plan_cache_link()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
    v_status text;
begin
    if new.run_id is null then
        return null;
    end if;
    select status::text into v_status from htdag.runs where run_id = new.run_id for share;
    update htdag.plan_cache_runs set run_id = new.run_id
     where link_id = (select link_id from htdag.plan_cache_runs
                       where run_id is null and graph_md5 = md5(new.graph::text)
                       order by link_id limit 1 for update skip locked);
    if found and v_status is distinct from 'running' then
        perform htdag._plan_cache_settle(new.run_id, v_status);
    end if;
    return null;
end;
$$;
