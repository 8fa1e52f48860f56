-- step_states drops its foreign key to steps (flow_hash, step_name). Each key was
-- checked per inserted row, so a run's start paid one check per step of its flow
-- (a query each: 100 of them for a 100-step flow). The key guarded nothing the
-- schema does not already: start_run creates the step states from the flow's
-- steps, a flow's steps never change (a flow is stored by content hash), and a
-- flow cannot be deleted while a run refers to it (runs -> flows).
alter table htdag.step_states drop constraint step_states_flow_hash_step_name_fkey;
