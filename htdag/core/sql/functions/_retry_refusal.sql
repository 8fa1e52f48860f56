-- Why a failed attempt of p_task, which has attempts left, is not retried, or
-- null when it is: its error's fingerprint (htdag.error_fingerprint; "timeout"
-- for a p_outcome of timed_out, as attempt_metrics gives it) is one of its
-- step's fail_fast (it
-- failed again on every retry before), or its step's retry_budget is spent (of
-- the handler's last 1,000 attempts, retries are already that share, and at
-- least 10; retries of fail_fast errors left out): an outage does not multiply
-- the load by max_attempts.
-- Reads only.
create or replace function htdag._retry_refusal(p_task htdag.tasks, p_error text,
                                               p_outcome text)
returns text
language plpgsql
set search_path = ''
as $$
declare
    v_fail_fast text[];
    v_budget double precision;
    v_attempts int;
    v_retries int;
    v_fingerprint text;
begin
    select s.fail_fast, s.retry_budget into v_fail_fast, v_budget
    from htdag.runs r
    join htdag.steps s on s.flow_hash = r.flow_hash and s.step_name = p_task.step_name
    where r.run_id = p_task.run_id;
    v_fingerprint := case when p_outcome = 'timed_out' then 'timeout'
                          else htdag.error_fingerprint(p_error) end;
    if v_fingerprint = any (v_fail_fast) then
        return 'not retried: this error failed again on every retry before (fail_fast)';
    end if;
    if v_budget is null then
        return null;
    end if;
    -- Retries spent on errors the step now fails fast do not count: they will
    -- not recur (fingerprints are computed for the retries only).
    select count(*),
           count(*) filter (where a.attempt > 1 and (v_fail_fast is null or coalesce(
               htdag.error_fingerprint(a.error), '') <> all (v_fail_fast)))
    into v_attempts, v_retries
    from (select a.attempt, a.error from htdag.attempts a where a.handler = p_task.handler
          order by a.finished_at desc limit 1000) a;
    if v_retries >= 10 and v_retries >= v_budget * v_attempts then
        return format('not retried: the retry budget of handler %s is spent (%s of its last %s '
                      'attempts were retries; retry_budget %s)', p_task.handler, v_retries,
                      v_attempts, v_budget);
    end if;
    return null;
end;
$$;
