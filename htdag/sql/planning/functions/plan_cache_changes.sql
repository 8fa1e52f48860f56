-- The entries changed by transactions from p_from on (a transaction id as
-- bigint, 0 for all), in order, evicted ones with the state 'evicted' (while
-- their tombstone lasts, a day), each row with the boundary: the oldest
-- transaction this snapshot could not see. Every change by a transaction older
-- than the boundary is in the answer, so a reader that asks next from the
-- boundary misses nothing (and may see a row twice). With no entry changed,
-- one row with only the boundary.
create or replace function htdag.plan_cache_changes(p_from bigint)
returns table (boundary bigint, entry_id bigint, state text, signature text, template text)
language sql
stable
set search_path = ''
as $$
    select s.xmin::text::bigint, c.entry_id, c.state, c.signature, c.template
      from (select pg_snapshot_xmin(pg_current_snapshot()) as xmin) s
      left join (
          select e.changed_tx, e.entry_id, e.state::text as state, e.signature, e.template
            from htdag.plan_cache e where e.changed_tx >= p_from::text::xid8
          union all
          select v.changed_tx, v.entry_id, 'evicted', '', ''
            from htdag.plan_cache_evictions v where v.changed_tx >= p_from::text::xid8
      ) c on true
     order by c.changed_tx, c.entry_id;
$$;
