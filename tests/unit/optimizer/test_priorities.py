"""Critical-path priorities: the longest remaining path is claimed first, which
beats FIFO on a fan-out queued ahead of a chain, stays within Graham's bound on
random graphs, and does not fall below FIFO on average with wrong predictions."""

from __future__ import annotations

import numpy as np
import pytest
from _list_scheduling import graham_bound, makespan
from _synthetic import attempts

from htdag.optimizer.learner_errors import StepCycleError, UnknownStepDependency
from htdag.optimizer.priorities import (
    MAX_PRIORITY,
    critical_path_priorities,
    predict_durations,
    prediction_error,
)

CHAIN = [f"chain_{i}" for i in range(1, 11)]
#: A fan-out of 40 tasks of 0.9 s queued ahead of a chain of ten 1 s steps.
FAN_OUT_AHEAD_OF_A_CHAIN: dict[str, list[str]] = {"fan_out": []} | {
    step: [CHAIN[i - 1]] if i else [] for i, step in enumerate(CHAIN)}
SECONDS = {"fan_out": 0.9} | dict.fromkeys(CHAIN, 1.0)
SIZES = {"fan_out": 40}


def random_graph(rng: np.random.Generator) -> tuple[
        dict[str, list[str]], dict[str, float], dict[str, int], int]:
    """5 to 30 steps, random edges forward, a quarter of them maps of 2 to 20 tasks,
    lognormal durations, 2 to 8 slots; queued in a random order."""
    count = int(rng.integers(5, 31))
    names = [f"s{i}" for i in range(count)]
    density = rng.uniform(0.05, 0.4)
    deps = {names[i]: [names[j] for j in range(i) if rng.random() < density]
            for i in range(count)}
    steps = {names[i]: deps[names[i]] for i in rng.permutation(count)}
    seconds = {name: float(rng.lognormal(0.0, 1.0)) for name in names}
    sizes = {name: int(rng.integers(2, 21)) for name in names if rng.random() < 0.25}
    return steps, seconds, sizes, int(rng.integers(2, 9))


def fifo_over_priorities(predict: str, seed: int = 0, graphs: int = 200) -> list[float]:
    """FIFO makespan over priority makespan on random graphs, priorities from
    true, random or inverted predictions."""
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(graphs):
        steps, seconds, sizes, slots = random_graph(rng)
        predicted = {"true": seconds,
                     "random": {s: float(rng.lognormal(0.0, 1.0)) for s in seconds},
                     "inverted": {s: 1.0 / v for s, v in seconds.items()}}[predict]
        decision = critical_path_priorities(steps, predicted, sizes)
        ratios.append(makespan(steps, seconds, sizes, slots)
                      / makespan(steps, seconds, sizes, slots, decision.priorities))
    return ratios


def test_the_priority_is_the_longest_remaining_path_in_milliseconds() -> None:
    steps = {"fetch": [], "parse": ["fetch"], "index": ["parse"], "thumb": ["fetch"]}
    decision = critical_path_priorities(steps, {"fetch": 1.0, "parse": 2.0, "index": 0.5,
                                                "thumb": 0.25})
    assert decision.applied
    assert decision.priorities == {"fetch": 3500, "parse": 2500, "index": 500, "thumb": 250}
    assert decision.critical_path == ("fetch", "parse", "index")
    assert decision.critical_length == pytest.approx(3.5)
    assert decision.reason == ("longest remaining path first: the critical path fetch -> parse "
                               "-> index takes 3.5 s of predicted work")


def test_a_fan_out_ahead_of_a_chain_ranks_below_every_chain_step_and_ends_sooner() -> None:
    decision = critical_path_priorities(FAN_OUT_AHEAD_OF_A_CHAIN, SECONDS, SIZES)
    assert all(decision.priorities["fan_out"] < decision.priorities[s] for s in CHAIN)
    fifo = makespan(FAN_OUT_AHEAD_OF_A_CHAIN, SECONDS, SIZES, slots=4)
    ranked = makespan(FAN_OUT_AHEAD_OF_A_CHAIN, SECONDS, SIZES, 4, decision.priorities)
    assert fifo / ranked >= 1.25  # priority_makespan_ratio; measured 19 s / 11.7 s


def test_with_slots_a_map_step_counts_the_rounds_its_tasks_take() -> None:
    decision = critical_path_priorities(FAN_OUT_AHEAD_OF_A_CHAIN, SECONDS, SIZES, slots=4)
    assert decision.durations["fan_out"] == pytest.approx(0.9 * 10)
    assert decision.priorities["fan_out"] == 9000


def test_steps_without_a_prediction_count_the_median_of_the_others() -> None:
    steps = {"a": [], "b": ["a"], "c": ["b"], "d": []}
    decision = critical_path_priorities(steps, {"a": 1.0, "b": 2.0, "c": 6.0})
    assert decision.imputed == ("d",) and decision.durations["d"] == 2.0
    assert decision.priorities["d"] == 2000
    assert critical_path_priorities({"x": [], "y": ["x"]}, {}).priorities == {"x": 0, "y": 0}


def test_priorities_are_clamped_to_a_postgres_integer() -> None:
    decision = critical_path_priorities({"a": [], "b": ["a"]}, {"a": 3e6, "b": 1.0})
    assert decision.priorities == {"a": MAX_PRIORITY, "b": 1000}


def test_cycles_and_unknown_dependencies_are_refused() -> None:
    with pytest.raises(StepCycleError, match="a, b depend on each other"):
        critical_path_priorities({"a": ["b"], "b": ["a"], "c": []}, {})
    with pytest.raises(UnknownStepDependency, match="'a' depends on 'ghost'"):
        critical_path_priorities({"a": ["ghost"]}, {})


def test_on_random_graphs_priorities_match_fifo_or_better_and_stay_within_grahams_bound() -> None:
    rng = np.random.default_rng(1)
    ratios = []
    for _ in range(200):
        steps, seconds, sizes, slots = random_graph(rng)
        decision = critical_path_priorities(steps, seconds, sizes)
        ranked = makespan(steps, seconds, sizes, slots, decision.priorities)
        assert ranked <= graham_bound(steps, seconds, sizes, slots) + 1e-9
        ratios.append(makespan(steps, seconds, sizes, slots) / ranked)
    assert np.mean(ratios) >= 0.99  # measured 1.07


@pytest.mark.parametrize("predict", ["random", "inverted"])
def test_wrong_predictions_keep_the_average_at_95_percent_of_fifo(predict: str) -> None:
    assert np.mean(fifo_over_priorities(predict)) >= 0.95  # measured 1.03 and 1.004


def test_predictions_known_to_be_wrong_are_not_applied_and_the_order_stays_fifo() -> None:
    steps, seconds = FAN_OUT_AHEAD_OF_A_CHAIN, SECONDS
    inverted = {"fan_out": 20.0} | {s: 0.1 * (i + 1) for i, s in enumerate(reversed(CHAIN))}
    error = prediction_error(inverted, {s: [v, v] for s, v in seconds.items()})
    assert error == pytest.approx(1 / 0.5)  # the median step is predicted 0.5 s for 1 s
    assert critical_path_priorities(steps, inverted, SIZES, prediction_error=error).applied
    error = prediction_error(inverted | {"chain_5": 0.1, "chain_6": 0.1},
                             {s: [v, v] for s, v in seconds.items()})
    assert error is not None and error > 3.0
    decision = critical_path_priorities(steps, inverted, SIZES, prediction_error=error)
    assert not decision.applied and set(decision.priorities.values()) == {0}
    assert makespan(steps, seconds, SIZES, 4, decision.priorities) == makespan(
        steps, seconds, SIZES, 4)
    assert "tasks keep FIFO order" in decision.reason
    exact = prediction_error(seconds, {s: [v] for s, v in seconds.items()})
    assert exact == 1.0
    assert critical_path_priorities(steps, seconds, SIZES, prediction_error=exact).applied


def test_predicted_durations_are_medians_of_successes_with_enough_samples() -> None:
    durations = [1.0, 2.0, 3.0, 4.0, 100.0, 0.1]
    history = {"parse": attempts(durations, outcome=["ok"] * 5 + ["error"]),
               "fetch": attempts([1.0, 2.0], outcome=["ok", "ok"])}
    assert predict_durations(history) == {"parse": 3.0, "fetch": None}
    assert predict_durations(history, min_samples=2) == {"parse": 3.0, "fetch": 1.5}
