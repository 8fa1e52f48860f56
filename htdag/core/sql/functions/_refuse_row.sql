-- Raises the check_violation (23514) of a state rule, naming the rule as its
-- constraint and saying in the detail what the rule wants. Called by the rule
-- functions (_run_state_ok and the like) of rules/01_state_rules.sql.
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
