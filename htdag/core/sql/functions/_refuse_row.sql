-- The state machine's rules for runs, step states and tasks, one CHECK per table
-- that calls one rule function per table, instead of a CHECK per rule.
--
-- Why: PostgreSQL re-reads (stringToNode) and re-prepares every CHECK expression of
-- a table in every statement that writes it. A task write carried about 8,000
-- characters of expression trees over nine constraints; perf put that (in
-- ExecConstraints) at about a sixth of the backend's time in a chain of one-task
-- steps, where each statement writes one row. One call of an immutable PL/pgSQL
-- function reads a far smaller tree and costs about a microsecond per row.
--
-- The rules and their names are unchanged: a row that breaks one is refused with
-- SQLSTATE 23514 (check_violation) naming the rule as its constraint (the error's
-- constraint_name), as before, now with a detail that says what the rule wants.
-- The functions take no SET clause on purpose: one would wrap every row's call in a
-- save and restore of settings. They read nothing but their arguments.
create or replace function htdag._refuse_row(p_table text, p_rule text, p_detail text)
returns boolean
language plpgsql
immutable
as $$
begin
    raise exception 'new row for relation "%" violates check constraint "%"', p_table, p_rule
        using errcode = 'check_violation', constraint = p_rule, table = p_table,
              schema = 'htdag', detail = p_detail;
end;
$$;
