-- Appends an event of the planning layer (decomposition.*, subgoal.*,
-- optimizer.*, cache.*; any other kind raises HT004) to a run (or to none),
-- announced. Returns its id.
create or replace function htdag.record_event(p_kind text, p_run_id uuid, p_data jsonb)
returns bigint
language plpgsql
set search_path = ''
as $$
begin
    if split_part(p_kind, '.', 1) not in ('decomposition', 'subgoal', 'optimizer',
                                            'cache') then
        raise exception 'event kind % is not the planning layer''s', p_kind
            using errcode = 'HT004',
                  hint = 'record only decomposition.*, subgoal.*, optimizer.* or cache.* kinds';
    end if;
    return htdag._append_event(
        p_kind, p_run_id, (select root_run_id from htdag.runs where run_id = p_run_id),
        null, null, p_data);
end;
$$;
