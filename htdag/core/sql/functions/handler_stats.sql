-- Per handler, over the attempts finished since p_since (all when null): how
-- many, by outcome class, the quantiles of successful durations (seconds), the
-- mean queue wait, and the most frequent error fingerprints with their counts
-- (at most 5). One row per handler that has attempts, by name.
-- Reads only.
create or replace function htdag.handler_stats(p_since timestamptz default null)
returns table (handler text, attempts bigint, ok bigint, errors bigint, timeouts bigint,
               lost bigint, cancelled bigint, p50 double precision, p90 double precision,
               p99 double precision, p999 double precision, mean_queue_wait double precision,
               failures jsonb)
language plpgsql
stable
set search_path = ''
as $$
begin
    return query
    with picked as (
        select a.handler, a.outcome, a.error,
               extract(epoch from a.finished_at - a.started_at)::double precision as d,
               greatest(extract(epoch from a.started_at - a.queued_at), 0)::double precision as w
        from htdag.attempts a
        where a.finished_at >= coalesce(p_since, '-infinity')
    ), fingerprints as (
        select f.handler, jsonb_object_agg(f.fp, f.n) as failures
        from (select x.handler, x.fp, x.n,
                     row_number() over (partition by x.handler order by x.n desc, x.fp) as rank
              from (select q.handler, coalesce(htdag.error_fingerprint(q.error), q.outcome) as fp,
                           count(*) as n
                    from picked q where q.outcome in ('failed', 'timed_out', 'lost')
                    group by 1, 2) x) f
        where f.rank <= 5
        group by f.handler
    )
    select q.handler, count(*),
           count(*) filter (where q.outcome = 'completed'),
           count(*) filter (where q.outcome = 'failed'),
           count(*) filter (where q.outcome = 'timed_out'),
           count(*) filter (where q.outcome = 'lost'),
           count(*) filter (where q.outcome in ('released', 'cancelled')),
           percentile_cont(0.5) within group (order by q.d) filter (where q.outcome = 'completed'),
           percentile_cont(0.9) within group (order by q.d) filter (where q.outcome = 'completed'),
           percentile_cont(0.99) within group (order by q.d) filter (where q.outcome = 'completed'),
           percentile_cont(0.999) within group (order by q.d)
               filter (where q.outcome = 'completed'),
           avg(q.w),
           coalesce((select f.failures from fingerprints f where f.handler = q.handler),
                    '{}'::jsonb)
    from picked q
    group by q.handler
    order by q.handler;
end;
$$;
