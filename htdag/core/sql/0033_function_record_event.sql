-- Appends an event of the planning layer (decomposition.*, subgoal.*,
-- optimizer.*); the engine's own kinds come from the triggers.
create or replace function htdag.record_event(p_kind text, p_run_id uuid, p_data jsonb)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_id bigint;
begin
    if split_part(p_kind, '.', 1) not in ('decomposition', 'subgoal', 'optimizer') then
        raise exception 'event kind % is not the planning layer''s', p_kind
            using errcode = 'HT004',
                  hint = 'record only decomposition.*, subgoal.* or optimizer.* kinds';
    end if;
    insert into htdag.events (kind, run_id, root_run_id, data)
    values (p_kind, p_run_id, (select root_run_id from htdag.runs where run_id = p_run_id),
            coalesce(p_data, '{}'::jsonb))
    returning event_id into v_id;
    return v_id;
end;
$$;
