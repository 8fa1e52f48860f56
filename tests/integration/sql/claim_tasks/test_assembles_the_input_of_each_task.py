"""claim_tasks returns each task with its input: for a single step, the run
input under "run" plus each dependency's output by name; for a map step, one
element of the array it maps over."""

from __future__ import annotations

from htdag.core.store import Store

from ..._support import WORKER_A, Db, by_step, claim, complete, flow_of, start


async def test_a_root_single_step_gets_the_run_input_under_run(store: Store) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), {"goal": "x"})

    [task] = await claim(store)

    assert task.input == {"run": {"goal": "x"}}
    assert (task.run_id, task.step_name, task.task_index, task.handler, task.attempt) == (
        run_id, "a", 0, "h.a", 1)


async def test_a_single_step_gets_its_dependencies_outputs_by_name(store: Store) -> None:
    flow = flow_of("f", ("a", []), ("b", []), ("c", ["a", "b"], {"timeout": 4.0}))
    await start(store, flow, [1, 2])
    tasks = by_step(await claim(store))
    await complete(store, tasks["a", 0], {"from": "a"})
    await complete(store, tasks["b", 0], ["from b"])

    [c] = await claim(store)

    assert c.step_name == "c"
    assert c.input == {"run": [1, 2], "a": {"from": "a"}, "b": ["from b"]}
    assert c.timeout == 4.0


async def test_a_root_map_step_task_gets_its_element_of_the_run_input(store: Store) -> None:
    await start(store, flow_of("f", ("m", [], {"map": True})), [{"n": 0}, "one", [2], None])

    tasks = await claim(store)

    assert {t.task_index: t.input for t in tasks} == {0: {"n": 0}, 1: "one", 2: [2], 3: None}


async def test_a_dependent_map_step_task_gets_its_element_of_the_dependency_output(
        store: Store) -> None:
    flow = flow_of("f", ("load", []), ("m", ["load"], {"map": True}))
    await start(store, flow, "ignored")
    [load] = await claim(store)
    await complete(store, load, [10, 20, 30])

    tasks = await claim(store, worker=WORKER_A)

    assert sorted((t.task_index, t.input) for t in tasks) == [(0, 10), (1, 20), (2, 30)]
    assert {t.step_name for t in tasks} == {"m"}


async def test_a_map_task_keeps_its_element_and_the_claim_reads_no_array(
        store: Store, db: Db) -> None:
    # The element is stored in the task when the step starts: a claim of a big map
    # does not read (and decompress) the whole array once per task.
    run_id = await start(store, flow_of("f", ("m", [], {"map": True})), ["x" * 50] * 2000)
    rows = await db.rows("select task_index, input from htdag.tasks where run_id = %s"
                         " order by task_index", (run_id,))
    assert len(rows) == 2000 and all(r["input"] == "x" * 50 for r in rows)
    # Proof that the claim takes the stored element: the run's array is gone.
    await db.execute("update htdag.runs set input = '[]' where run_id = %s", (run_id,))

    tasks = await claim(store, limit=100)

    assert len(tasks) == 100 and {t.input for t in tasks} == {"x" * 50}
