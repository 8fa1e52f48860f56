"""How a step's tasks run: one frozen model for flows built in Python, flows
read from JSON and task graphs, bounded by what the database can store and
compute with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ._validation import describe_validation_error
from .errors import InvalidOptionError

# The database computes a retry's delay as base_delay * 2 ^ (attempt - 1) in
# double precision (htdag._fail_task) before capping it at max_delay: past about
# 1,020 attempts the power overflows, and with 1,000 attempts a base delay of up
# to a year still fits.
MAX_ATTEMPTS = 1000
# A year: longer delays and timeouts are mistakes, and the delay bound above
# assumes it.
MAX_SECONDS = 365 * 86400.0
_INT4 = 2**31  # priority is an int column
_UNSET_OMITTED = frozenset({"concurrency_key", "fail_fast", "retry_budget", "hedge_after"})


class StepOptions(BaseModel):
    """How a step's tasks run. Delays and timeouts are in seconds: a failed
    attempt is retried after ``base_delay * 2 ** (attempt - 1)`` seconds, at most
    ``max_delay``, less a random part of up to half.

    A bad value raises InvalidOptionError naming the option and its bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    max_attempts: int = Field(default=3, ge=1, le=MAX_ATTEMPTS,
                              description="attempts before the task (and its run) fails")
    base_delay: float = Field(default=1.0, ge=0, le=MAX_SECONDS,
                              description="seconds before the first retry; doubles each retry")
    max_delay: float = Field(default=300.0, ge=0, le=MAX_SECONDS,
                             description="the longest wait before a retry, in seconds")
    timeout: float | None = Field(default=None, gt=0, le=MAX_SECONDS,
                                  description="seconds one attempt may take; none: no limit")
    priority: int = Field(default=0, ge=-_INT4, lt=_INT4,
                          description="higher is claimed first")
    concurrency_key: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="tasks sharing a key run at most the key's limit at once, over every "
                    "worker (engine.set_concurrency_limit)")
    fail_fast: tuple[str, ...] | None = Field(
        default=None, max_length=100,
        description="error fingerprints that fail the task at once, without a retry")
    retry_budget: float | None = Field(
        default=None, gt=0, le=1,
        description="at most this share of the handler's last 1,000 attempts may be retries")
    hedge_after: float | None = Field(
        default=None, gt=0, le=MAX_SECONDS,
        description="seconds after which a still running task may get a second execution in "
                    "another slot, the first outcome winning: for idempotent handlers only")

    def __init__(self, **options: Any) -> None:
        try:
            super().__init__(**options)
        except ValidationError as exc:
            # Without a root: nested in a flow or a graph, pydantic puts this message
            # after the options' own location.
            raise InvalidOptionError(describe_validation_error(exc, root="")) from None

    @model_validator(mode="before")
    @classmethod
    def _only_known_options(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                raise ValueError(f"unknown option(s) {unknown}; the options are "
                                 + ", ".join(cls.model_fields))
        return data

    @field_validator("fail_fast", mode="before")
    @classmethod
    def _fingerprints_as_tuple(cls, value: Any) -> Any:
        # JSON (a flow read back, a graph from a model) gives a list.
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _delays_in_order(self) -> StepOptions:
        if self.max_delay < self.base_delay:
            raise ValueError(f"max_delay ({self.max_delay:g}) must be >= base_delay "
                             f"({self.base_delay:g}): raise max_delay or lower base_delay")
        return self

    def to_definition(self) -> dict[str, Any]:
        """As a flow's definition stores them: the optimizer's options only when
        set, so flows that do not use them keep their content hash."""
        dumped = self.model_dump(mode="json")
        return {k: v for k, v in dumped.items() if v is not None or k not in _UNSET_OMITTED}

    def updated(self, changes: Mapping[str, Any]) -> StepOptions:
        """A copy with ``changes`` applied, checked like a new one."""
        return StepOptions(**{**self.model_dump(), **changes}) if changes else self
