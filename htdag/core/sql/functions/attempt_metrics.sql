-- The recorded attempts of one handler (p_key null) or of one concurrency key,
-- finished since p_since, at most the latest p_limit, oldest first: what the
-- optimizer learns from. Per attempt: its outcome class (ok, error, timeout,
-- lost, cancelled), duration (from its claim to its report) and queue wait in
-- seconds, how long its handler ran (run_seconds, as its worker measured; null
-- when not reported), the error's
-- fingerprint, and how many attempts of the same handler (or key) were
-- running when it started, itself included (from the recorded intervals: an
-- attempt that finishes as another starts no longer counts).
-- Reads only; attempts_handler_idx or attempts_key_idx.
create or replace function htdag.attempt_metrics(
    p_handler text, p_key text default null, p_since timestamptz default null,
    p_limit int default 10000)
returns table (task_id bigint, attempt int, flow_hash text, step_name text, handler text,
               concurrency_key text, worker_id uuid, outcome_class text,
               duration double precision, queue_wait double precision,
               started_at timestamptz, finished_at timestamptz, fingerprint text,
               concurrency int, run_seconds double precision)
language plpgsql
stable
set search_path = ''
as $$
begin
    return query
    with picked as (
        select a.* from htdag.attempts a
        where (p_key is null and a.handler = p_handler
               or p_key is not null and a.concurrency_key = p_key)
          and a.finished_at >= coalesce(p_since, '-infinity')
        order by a.finished_at desc
        limit p_limit
    ), edges as (
        -- +1 where an attempt starts, -1 where one ends: the sum up to an
        -- instant, that instant's starts and ends included, is what runs then.
        select p.task_id, p.attempt, p.started_at as at, 1 as delta from picked p
        union all
        select null, null, p.finished_at, -1 from picked p
    ), running as (
        select e.task_id, e.attempt,
               sum(e.delta) over (order by e.at range unbounded preceding)::int as n
        from edges e
    )
    select p.task_id, p.attempt, r.flow_hash, p.step_name, p.handler, p.concurrency_key,
           p.worker_id,
           case p.outcome when 'completed' then 'ok' when 'failed' then 'error'
                          when 'timed_out' then 'timeout' when 'lost' then 'lost'
                          else 'cancelled' end,
           extract(epoch from p.finished_at - p.started_at)::double precision,
           greatest(extract(epoch from p.started_at - p.queued_at), 0)::double precision,
           p.started_at, p.finished_at,
           case when p.outcome = 'completed' then null
                when p.outcome = 'timed_out' then 'timeout'
                else htdag.error_fingerprint(p.error) end,
           greatest(n.n, 1), p.run_seconds
    from picked p
    join running n on n.task_id = p.task_id and n.attempt = p.attempt
    left join htdag.runs r on r.run_id = p.run_id
    order by p.finished_at, p.task_id, p.attempt;
end;
$$;
