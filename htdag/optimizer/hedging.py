"""Learned hedge delays: when a task has run longer than most, start a second attempt.

The delay is a high quantile of the handler's successful run times (p95 by
default), as in Finagle's backup requests. A run time is how long the handler
ran as its worker measured, the clock the worker's hedge timer counts on
(a duration from claim to report would add the claim's and the report's
overhead to the delay). a task still running past it is
probably a straggler, and a second attempt on another slot usually ends sooner;
the first result wins. About ``1 - quantile`` of the tasks get hedged, so the
quantile is raised when needed to keep that share within the extra-attempt budget.
The effect is simulated on the history itself: each recorded run time ``d`` past
the delay becomes ``min(d, delay + d')`` with ``d'`` drawn from the history, and
the decision declines when that would not lower the p99."""

from __future__ import annotations

from dataclasses import dataclass

from ._stats import (
    QuantileEstimate,
    format_number,
    format_seconds,
    quantile_label,
    quantile_with_ci,
)
from .learner_errors import InvalidLearnerSetting
from .samples import Attempts

#: Seed of the draws of the simulation, so that a decision is the same on every run.
SIMULATION_SEED = 0


@dataclass(frozen=True)
class HedgeDecision:
    """A hedge delay and the evidence behind it.

    ``delay``: start a second attempt of a task still running after this many
    seconds of its handler's run (``None`` when not applied). ``quantile`` is
    the quantile of successful run times used, with its confidence interval; ``hedged_share`` the
    share of recorded tasks that would have been hedged (the extra attempts, at
    most ``budget_ratio``); ``p99_without``/``p99_with`` the p99 of the recorded
    run times as they were and as the simulation of hedging makes them."""

    applied: bool
    reason: str
    delay: float | None
    n: int
    budget_ratio: float
    quantile: QuantileEstimate | None = None
    hedged_share: float | None = None
    p99_without: float | None = None
    p99_with: float | None = None


def learn_hedge_delay(attempts: Attempts, *, quantile: float = 0.95, min_samples: int = 100,
                      budget_ratio: float = 0.05) -> HedgeDecision:
    """The hedge delay for the handler whose ``attempts`` are given.

    The ``quantile`` of successful run times, raised to ``1 - budget_ratio`` when
    it would hedge more than the budget allows."""
    import numpy as np

    if not 0.0 < quantile < 1.0 or not 0.0 < budget_ratio < 1.0:
        raise InvalidLearnerSetting(
            f"quantile {quantile}, budget_ratio {budget_ratio}: give both in (0, 1), "
            "e.g. 0.95 and 0.05")
    ok = attempts.ok_run_seconds()
    n = len(ok)
    needed = max(min_samples, 1)
    if n < needed:
        return HedgeDecision(
            applied=False, delay=None, n=n, budget_ratio=budget_ratio,
            reason=f"only {n} successful attempts; {needed} needed: no hedging")
    estimate = quantile_with_ci(ok, max(quantile, 1.0 - budget_ratio))
    delay = estimate.value
    rng = np.random.default_rng(SIMULATION_SEED)
    hedged = ok > delay
    second = rng.choice(ok, size=n)
    simulated = np.where(hedged, np.minimum(ok, delay + second), ok)
    decision = HedgeDecision(
        applied=True, reason="", delay=delay, n=n, budget_ratio=budget_ratio,
        quantile=estimate, hedged_share=float(hedged.mean()),
        p99_without=float(np.quantile(ok, 0.99)), p99_with=float(np.quantile(simulated, 0.99)))
    return _with_reason(decision)


def _with_reason(decision: HedgeDecision) -> HedgeDecision:
    """``decision`` with its reason; declined when hedging would not lower the p99."""
    from dataclasses import replace

    assert decision.quantile is not None and decision.hedged_share is not None
    assert decision.p99_with is not None and decision.p99_without is not None
    effect = (f"p99 {format_seconds(decision.p99_without)} without hedging, "
              f"{format_seconds(decision.p99_with)} with it on the recorded history")
    if decision.p99_with >= decision.p99_without:
        return replace(decision, applied=False, delay=None, reason=(
            f"no hedging: a second attempt after {format_seconds(decision.quantile.value)}, "
            f"the {quantile_label(decision.quantile.q)}, would not lower the p99 ({effect})"))
    return replace(decision, reason=(
        f"hedge after {format_seconds(decision.quantile.value)}, the "
        f"{quantile_label(decision.quantile.q)} of {decision.n} successful attempts "
        f"({decision.quantile.interval()}): "
        f"{format_number(decision.hedged_share * 100)}% of tasks get a second attempt "
        f"(budget {format_number(decision.budget_ratio * 100)}%); {effect}"))
