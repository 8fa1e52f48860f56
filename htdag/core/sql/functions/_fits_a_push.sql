-- Whether the tasks of a run's root steps surely fit one push (a NOTIFY payload
-- is at most 8000 bytes, and _send_push refuses one over 7000): at most 10 tasks,
-- each with at most 300 bytes of ids and keys plus its step and handler names
-- (escaped, at worst 6 bytes a byte), and per root step the run input its tasks'
-- inputs come from (a single step's task carries all of it; a map step's tasks
-- its elements, which add up to no more).
create or replace function htdag._fits_a_push(p_flow_hash text, p_roots text[], p_input jsonb)
returns boolean
language sql
stable
set search_path = ''
as $$
    select coalesce(sum(r.n), 0) <= 10
           and coalesce(sum(r.n * (300 + 6 * (octet_length(r.step_name)
                                              + octet_length(r.handler)))
                            + octet_length(p_input::text) + 20), 0) <= 6500
    from (select s.step_name, s.handler,
                 case when s.kind = 'single' then 1
                      when jsonb_typeof(p_input) = 'array' then jsonb_array_length(p_input)
                      else 0 end as n
          from htdag.steps s
          where s.flow_hash = p_flow_hash and s.step_name = any (p_roots)) r
$$;
