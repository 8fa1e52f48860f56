-- Trigger (runs, after a run's status changes to an end): settles the plan
-- cache entries whose plans the run executed (see _plan_cache_settle).
create or replace function htdag._plan_cache_run_ended()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    perform htdag._plan_cache_settle(new.run_id, new.status::text);
    return null;
end;
$$;
