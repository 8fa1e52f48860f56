"""Learned timeouts: a margin over a high quantile of a handler's successful run times.

A run time is how long the handler ran as its worker measured: the clock a
step's timeout counts on (recorded attempts without one use their duration).

With many samples the margin sits on p99.9 (1.5 x); with fewer on p99 (3 x), whose
estimate is steadier, so the wider margin pays for the shorter history. Below a
minimum sample count nothing is learned and the static timeout stays. The value
is clamped to a floor (so jitter on very fast handlers never cuts a call) and a
cap. Compare RFC 6298's SRTT + 4*RTTVAR: a quantile needs no assumption about the
shape of the distribution, which for durations is rarely normal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._stats import (
    QuantileEstimate,
    format_number,
    format_seconds,
    quantile_label,
    quantile_with_ci,
)
from .learner_errors import InvalidLearnerSetting
from .samples import Attempts, OutcomeClass

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: Successful attempts from which the margin rests on p99.9 rather than p99.
MANY_SAMPLES = 1000
#: (quantile, margin) with many samples, and with fewer.
RULE_MANY = (0.999, 1.5)
RULE_FEW = (0.99, 3.0)


@dataclass(frozen=True)
class TimeoutDecision:
    """A handler's timeout, and the evidence it was learned from.

    ``value`` is the timeout to apply (the static one when ``applied`` is false).
    ``quantile`` is the quantile the rule used, with its confidence interval;
    ``margin`` multiplies it; ``unclamped`` is the product before ``floor``/``cap``
    (``clamped`` names the bound that applied, if one did).
    ``false_timeout_rate`` is the share of recorded successful attempts that the
    value would have cut (``static_false_timeout_rate`` the same for the static
    one). ``hung_calls`` counts attempts cut by a timeout; ``static_wait`` is the
    seconds they waited (their recorded durations), ``learned_wait`` what they
    would have waited under ``value`` (count x value)."""

    applied: bool
    reason: str
    value: float | None
    static: float | None
    n: int
    p50: float | None = None
    p99: float | None = None
    p999: float | None = None
    quantile: QuantileEstimate | None = None
    margin: float | None = None
    unclamped: float | None = None
    clamped: str | None = None
    false_timeout_rate: float | None = None
    static_false_timeout_rate: float | None = None
    hung_calls: int = 0
    static_wait: float | None = None
    learned_wait: float | None = None


def learn_timeout(attempts: Attempts, *, static: float | None, min_samples: int = 50,
                  floor: float = 0.1, cap: float = 3600.0) -> TimeoutDecision:
    """The timeout for the handler whose ``attempts`` are given.

    ``>= 1000`` successful attempts: 1.5 x p99.9; ``>= min_samples``: 3 x p99;
    fewer: not applied, ``value`` is ``static``. Clamped to ``[floor, cap]``."""
    import numpy as np

    if not 0 < floor <= cap:
        raise InvalidLearnerSetting(f"timeout floor {floor} and cap {cap}: give 0 < floor <= cap")
    ok = attempts.ok_run_seconds()  # the clock the timeout counts on
    n = len(ok)
    hung = attempts.duration[attempts.outcome == OutcomeClass.TIMEOUT.value]
    static_wait = float(hung.sum()) if len(hung) else None
    p50 = float(np.quantile(ok, 0.5)) if n else None
    p99 = float(np.quantile(ok, 0.99)) if n else None
    p999 = float(np.quantile(ok, 0.999)) if n >= MANY_SAMPLES else None
    static_rate = _false_timeout_rate(ok, static)
    needed = max(min_samples, 1)
    if n < needed:
        keeps = (f"the static timeout ({format_seconds(static)}) stays" if static is not None
                 else "no timeout stays")
        return TimeoutDecision(
            applied=False, value=static, static=static, n=n, p50=p50, p99=p99,
            static_false_timeout_rate=static_rate, hung_calls=len(hung),
            static_wait=static_wait,
            reason=f"only {n} successful attempts; {needed} needed: {keeps}")

    q, margin = RULE_MANY if n >= MANY_SAMPLES else RULE_FEW
    estimate = quantile_with_ci(ok, q)
    unclamped = margin * estimate.value
    value = min(max(unclamped, floor), cap)
    clamped = "floor" if unclamped < floor else "cap" if unclamped > cap else None
    learned_wait = len(hung) * value if len(hung) else None
    decision = TimeoutDecision(
        applied=True, reason="", value=value, static=static, n=n, p50=p50, p99=p99,
        p999=p999, quantile=estimate, margin=margin, unclamped=unclamped, clamped=clamped,
        false_timeout_rate=_false_timeout_rate(ok, value),
        static_false_timeout_rate=static_rate, hung_calls=len(hung),
        static_wait=static_wait, learned_wait=learned_wait)
    return _with_reason(decision)


def _false_timeout_rate(ok: npt.NDArray[np.float64], timeout: float | None) -> float | None:
    """The share of successful run times longer than ``timeout``."""
    if timeout is None or len(ok) == 0:
        return None
    return float((ok > timeout).mean())


def _with_reason(decision: TimeoutDecision) -> TimeoutDecision:
    """``decision`` with its one-sentence reason filled in."""
    from dataclasses import replace

    assert decision.quantile is not None and decision.value is not None
    assert decision.margin is not None and decision.unclamped is not None
    reason = (f"{format_number(decision.margin)} x {quantile_label(decision.quantile.q)} of "
              f"{decision.n} successful attempts ({decision.quantile.describe()})")
    if decision.clamped is not None:
        reason += (f", {format_seconds(decision.unclamped)} raised to the floor"
                   if decision.clamped == "floor" else
                   f", {format_seconds(decision.unclamped)} lowered to the cap")
        reason += f" of {format_seconds(decision.value)}"
    if decision.hung_calls and decision.static is not None:
        assert decision.static_wait is not None and decision.learned_wait is not None
        reason += (f"; a {format_seconds(decision.static)} timeout waited "
                   f"{format_seconds(decision.static_wait)} on {decision.hung_calls} hung calls, "
                   f"{format_seconds(decision.value)} would have waited "
                   f"{format_seconds(decision.learned_wait)}")
    return replace(decision, reason=reason)

