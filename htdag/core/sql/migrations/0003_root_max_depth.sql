-- A root run keeps its tree's depth limit, as it keeps its task budget.
alter table htdag.runs add column max_depth int check (max_depth >= 0);
