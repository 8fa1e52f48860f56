-- Announces that tasks of p_handler are ready (NOTIFY htdag_tasks). Outside a
-- worker's exchange, first pushes ready tasks to an idle worker, if one is
-- idle (_push_tasks). Inside an exchange, only notes the handler for it
-- (htdag.ready_handlers), which then announces what its claim left.
create or replace function htdag._notify_tasks(p_handler text default null)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_origin text := coalesce(current_setting('htdag.notify_origin', true), '');
    v_worker htdag.workers;
    v_limit int;
    v_pushed int;
begin
    if v_origin not in ('', 'reaper') then
        perform set_config('htdag.ready_handlers',
            (coalesce(nullif(current_setting('htdag.ready_handlers', true), ''), '[]')::jsonb
             || jsonb_build_array(p_handler))::text, true);
        return;
    end if;
    if v_origin = '' then
        select * into v_worker from htdag.workers w
        where w.idle_slots > 0 and w.stopped_at is null and w.lost_at is null
        order by w.idle_slots desc
        limit 1
        for update skip locked;
        if found then
            v_limit := least(v_worker.idle_slots, 10);
            v_pushed := htdag._push_tasks(v_worker, v_limit);
            if v_pushed > 0 and v_pushed < v_limit then
                v_origin := v_worker.worker_id::text;
            end if;
        end if;
    end if;
    perform pg_notify('htdag_tasks', v_origin);
end;
$$;
