-- An error's fingerprint: what tells one kind of failure from another across
-- attempts. The first line of its text (``Type: message``), with ids, hex
-- addresses and numbers replaced, at most 200 characters: "timed out after 3s"
-- and "timed out after 5s" share "timed out after #s"; quoted names are kept
-- ("KeyError: 'name'" is another bug than "KeyError: 'id'"). Null for null.
create or replace function htdag.error_fingerprint(p_error text)
returns text
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
begin
    if p_error is null then
        return null;
    end if;
    return left(regexp_replace(regexp_replace(regexp_replace(
        split_part(p_error, E'\n', 1),
        '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '<id>', 'g'),
        '0x[0-9a-fA-F]+', '<hex>', 'g'),
        '[0-9]+(\.[0-9]+)?', '#', 'g'), 200);
end;
$$;
