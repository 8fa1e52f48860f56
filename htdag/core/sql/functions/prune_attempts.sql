-- Deletes attempts finished longer ago than p_older_than, or than the
-- attempt_retention_days setting when it is null; returns how many. What the
-- optimizer learns from is what is kept.
create or replace function htdag.prune_attempts(p_older_than interval default null)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_keep interval := p_older_than;
    v_count bigint;
begin
    if v_keep is null then
        select make_interval(days => (s.value #>> '{}')::int) into v_keep
        from htdag.settings s where s.key = 'attempt_retention_days';
    end if;
    delete from htdag.attempts where finished_at < now() - coalesce(v_keep, interval '30 days');
    get diagnostics v_count = row_count;
    return v_count;
end;
$$;
