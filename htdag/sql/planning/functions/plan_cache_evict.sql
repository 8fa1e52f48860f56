-- Keeps the plan cache within p_max_entries entries (of any state) and returns
-- how many it deleted. Over the limit, it deletes down to 99% of it (so that
-- the count and the choice run once every 1% of puts), never p_keep: first
-- entries no longer served (rejected, disabled, replaced), then pending ones
-- older than a day (their run never ended), then active ones least recently
-- used (hit, else put), then the other pending ones; oldest first within each.
-- Each eviction leaves a tombstone (processes drop the entry from their index
-- at their next refresh), is counted in plan_cache_totals and emits
-- cache.evicted. Under the limit it does not count: the entries counted last
-- time plus the ids given out since bound the entries now. One eviction at a
-- time (the totals row's lock); rows another transaction holds are skipped, so
-- concurrent puts may leave the cache a few entries over until the next
-- eviction. Tombstones older than a day go.
create or replace function htdag.plan_cache_evict(p_max_entries bigint, p_keep bigint = null)
returns int
language plpgsql
set search_path = ''
as $$
declare
    v_entries bigint;
    v_upto bigint;
    v_count int := 0;
    v record;
begin
    select t.counted, t.counted_upto into v_entries, v_upto from htdag.plan_cache_totals t;
    if v_entries + (select coalesce(max(entry_id), 0) from htdag.plan_cache) - v_upto
            <= p_max_entries then
        return 0;
    end if;
    insert into htdag.plan_cache_totals as t (id) values (true)
    on conflict (id) do update set evictions = t.evictions;
    select count(*), coalesce(max(entry_id), 0) into v_entries, v_upto from htdag.plan_cache;
    for v in
        with victims as (
            select entry_id from htdag.plan_cache
             where entry_id is distinct from p_keep and v_entries > p_max_entries
             order by case
                 when state in ('rejected', 'disabled', 'replaced') then 0
                 when state = 'pending' and created_at < now() - interval '1 day' then 1
                 when state = 'active' then 2
                 else 3 end,
                 coalesce(last_used_at, created_at), entry_id
             limit greatest(v_entries - (p_max_entries - p_max_entries / 100), 0)
               for update skip locked)
        delete from htdag.plan_cache e using victims w where e.entry_id = w.entry_id
        returning e.entry_id, e.state::text as state, e.goal, e.hits, e.successes, e.failures
    loop
        insert into htdag.plan_cache_evictions (entry_id) values (v.entry_id);
        perform htdag.record_event('cache.evicted', null, jsonb_build_object(
            'entry_id', v.entry_id, 'state', v.state, 'goal', left(v.goal, 200),
            'hits', v.hits, 'successes', v.successes, 'failures', v.failures,
            'reason', 'limit'));
        v_count := v_count + 1;
    end loop;
    update htdag.plan_cache_totals
       set evictions = evictions + v_count, counted = v_entries - v_count, counted_upto = v_upto
     where id;
    delete from htdag.plan_cache_evictions where entry_id in (
        select entry_id from htdag.plan_cache_evictions
         where evicted_at < now() - interval '1 day' limit 1000);
    return v_count;
end;
$$;
