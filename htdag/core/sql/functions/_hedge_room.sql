-- How many more hedged executions a handler's budget allows now: 5 % of its
-- last 1,000 attempts, less those of them that were hedged and its tasks
-- hedged now (still started). At most 0 when nothing is left.
-- Reads only: attempts_handler_idx and tasks_hedged_idx.
create or replace function htdag._hedge_room(p_handler text)
returns int
language sql
stable
set search_path = ''
as $$
    select (floor(0.05 * count(*)) - count(a.hedge) - (
               select count(*) from htdag.tasks h
               where h.handler = p_handler and h.hedge_token is not null
                 and h.status = 'started'))::int
    from (select a.hedge from htdag.attempts a where a.handler = p_handler
          order by a.finished_at desc limit 1000) a
$$;
