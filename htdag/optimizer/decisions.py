"""What the optimizer decided, in one shape for every learner: a
:class:`Decision` (stored in htdag.optimizer_decisions, emitted as
optimizer.applied) and the :class:`Optimization` of one graph."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from ..graph import TaskGraph

Level = Literal["basic", "advanced", "aggressive"]
LEVELS: tuple[Level, ...] = ("basic", "advanced", "aggressive")
Kind = Literal["timeout", "retries", "concurrency", "priority", "hedge", "restructure"]


@dataclass(frozen=True)
class Decision:
    """One learner's decision about a task of a graph (or a concurrency key):
    whether it was applied, the value taken and the static one it replaced, a
    sentence that explains it and the evidence behind it (samples, quantiles
    with their confidence, the fitted curve, what the static setting cost)."""

    kind: Kind
    applied: bool
    reason: str
    level: Level
    task: str | None = None
    handler: str | None = None
    concurrency_key: str | None = None
    value: Any = None
    static: Any = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        """As htdag.record_optimizer_decisions takes it (JSON values only)."""
        return {name: jsonable(getattr(self, name)) for name in (
            "kind", "applied", "reason", "level", "task", "handler", "concurrency_key", "value",
            "static", "evidence")}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Decision:
        """From a row of htdag.optimizer_decisions."""
        return cls(kind=row["kind"], applied=row["applied"], reason=row["reason"],
                   level=row["level"], task=row["task"], handler=row["handler"],
                   concurrency_key=row["concurrency_key"], value=row["value"],
                   static=row["static"], evidence=row["evidence"] or {})


@dataclass
class Optimization:
    """What the optimizer makes of a graph: the graph to build (restructured
    at the ``aggressive`` level without preserve_structure), step options by
    task id, concurrency limits by key, and every decision, applied or not."""

    graph: TaskGraph
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)

    def applied(self) -> list[Decision]:
        return [d for d in self.decisions if d.applied]


def evidence_of(learned: Any) -> dict[str, Any]:
    """A learner's decision dataclass as JSON evidence (without the fields a
    Decision carries itself)."""
    if not dataclasses.is_dataclass(learned) or isinstance(learned, type):
        return {}
    found = jsonable(dataclasses.asdict(learned))
    assert isinstance(found, dict)
    for name in ("applied", "reason", "graph"):
        found.pop(name, None)
    return found


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars, tuples, enums and non-finite floats made
    JSON: lists, plain numbers, None."""
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if hasattr(value, "item"):  # a numpy scalar
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "tolist"):  # a numpy array
        return jsonable(value.tolist())
    return str(value)
