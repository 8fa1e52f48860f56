"""Decisions as people read them: ``optimizer.explain(graph or flow)`` and
``htdag optimizer explain``. For a graph, what the optimizer would apply now
(a dry run); for a flow or a run, what it recorded when it built the flow."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.definitions import Flow
from ..core.engine import AsyncEngine
from ..core.errors import InvalidInput, UnknownRunError
from ..graph import TaskGraph
from . import metrics
from .decisions import Decision, jsonable

if TYPE_CHECKING:
    from .policy import Optimizer

_KIND_ORDER = ("restructure", "timeout", "retries", "hedge", "concurrency", "priority")


@dataclass
class Explanation:
    """The decisions about one graph, flow or run, in the order they were made."""

    subject: str  # "graph <goal>", "flow <hash>" or "run <id>"
    decisions: list[Decision] = field(default_factory=list)
    recorded: bool = False  # read from htdag.optimizer_decisions (else a dry run)

    def applied(self) -> list[Decision]:
        return [d for d in self.decisions if d.applied]

    def text(self, evidence: bool = True) -> str:
        """One paragraph per decision: what, where, the value taken against the
        static one, why, and (with ``evidence``) the figures behind it."""
        if not self.decisions:
            return (f"{self.subject}: no optimizer decisions"
                    + ("" if not self.recorded else " were recorded (built without optimize=)"))
        lines = [f"{self.subject}: {len(self.applied())} of {len(self.decisions)} decisions "
                 f"applied" + ("" if self.recorded else " (a dry run: nothing was stored)")]
        order = {k: i for i, k in enumerate(_KIND_ORDER)}
        for d in sorted(self.decisions, key=lambda d: (order.get(d.kind, 99), d.task or "")):
            lines.append(_headline(d))
            lines.append(f"    {d.reason}")
            if evidence:
                lines.extend(f"    {line}" for line in _evidence_lines(d))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text(evidence=False)

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "recorded": self.recorded,
                "decisions": [d.as_record() for d in self.decisions]}


def _headline(d: Decision) -> str:
    where = d.task or (f"key {d.concurrency_key}" if d.concurrency_key else "graph")
    mark = "applied" if d.applied else "kept   "
    handler = f" ({d.handler})" if d.handler and d.handler != d.task else ""
    change = ""
    if d.applied and d.kind != "restructure":
        change = f": {_short(d.value)}" + (f" (static {_short(d.static)})"
                                           if d.static is not None else "")
    return f"  {mark} {d.kind:<11} {where}{handler}{change}"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g} s" if value < 1e5 else f"{value:.4g}"
    text = json.dumps(jsonable(value), separators=(", ", ": "))
    return text if len(text) <= 80 else text[:77] + "..."


def _evidence_lines(d: Decision) -> list[str]:
    """The evidence fields that say most, one per line (long lists cut)."""
    found = []
    for key, value in d.evidence.items():
        if value in (None, [], {}, "") or key in ("static", "value", "limit", "current_limit"):
            continue
        text = json.dumps(value, separators=(",", ":"))
        if len(text) > 160:
            text = text[:157] + "..."
        found.append(f"{key}: {text}")
    return found


async def explain(optimizer: Optimizer, target: Any, engine: AsyncEngine) -> Explanation:
    """See Optimizer.aexplain."""
    if isinstance(target, TaskGraph | Mapping):
        graph = target if isinstance(target, TaskGraph) else TaskGraph.parse(target)
        done = await optimizer.aoptimize(graph, engine)
        return Explanation(f"graph {graph.goal or '(no goal)'!r}", done.decisions)
    if isinstance(target, Flow):
        return await _recorded(engine, flow_hash=target.hash)
    run_id = _as_run_id(target)
    if run_id is not None:
        if await metrics.flow_of_run(engine, run_id) is None:
            raise UnknownRunError(f"no run {run_id}: give a run id from `htdag runs`")
        return await _recorded(engine, run_id=run_id)
    if isinstance(target, str) and target:
        return await _recorded(engine, flow_hash=target)
    raise InvalidInput(f"explain takes a TaskGraph, a Flow, a flow hash or a run id, not "
                       f"{type(target).__name__}")


async def _recorded(engine: AsyncEngine, *, flow_hash: str | None = None,
                    run_id: uuid.UUID | None = None) -> Explanation:
    rows = await metrics.recorded_decisions(engine, flow_hash=flow_hash, run_id=run_id)
    if run_id is not None and not rows:
        # Decisions are recorded with the run that built the flow; a later run of
        # the same flow finds them by its flow.
        flow_hash = await metrics.flow_of_run(engine, run_id)
        rows = await metrics.recorded_decisions(engine, flow_hash=flow_hash)
    subject = f"run {run_id}" if run_id is not None else f"flow {flow_hash}"
    return Explanation(subject, [Decision.from_row(r) for r in rows], recorded=True)


def _as_run_id(target: Any) -> uuid.UUID | None:
    if isinstance(target, uuid.UUID):
        return target
    if isinstance(target, str):
        try:
            return uuid.UUID(target)
        except ValueError:
            return None
    return None
