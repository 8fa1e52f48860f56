"""One model call through litellm, imported on first use (it takes seconds):
the model's name checked first, our own retries with backoff and jitter on
rate limits, server errors, timeouts and refused connections (litellm's and
the OpenAI client's own retries are off, so these are the ones counted), then
one clear error. Returns the answer with its tokens, cost and latency."""

from __future__ import annotations

import difflib
import os
import time
from dataclasses import dataclass
from typing import Any

from ..core._retry import backoff, retry
from ._errors import LLMProviderError, UnknownModelError

TRANSIENT = ("RateLimitError", "InternalServerError", "ServiceUnavailableError",
             "BadGatewayError", "Timeout", "APIConnectionError")


def import_litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
    import litellm

    litellm.suppress_debug_info = True  # no provider list printed on stdout
    return litellm


def check_model(model: str, api_base: str | None) -> str:
    """The model's provider; UnknownModelError when litellm cannot tell which
    provider serves it (a typo, or a model without its provider prefix)."""
    litellm = import_litellm()
    try:
        provider = str(litellm.get_llm_provider(model=model, api_base=api_base)[1])
    except Exception as exc:  # noqa: BLE001 - litellm raises several kinds for this
        close = difflib.get_close_matches(model, list(litellm.model_cost), n=3, cutoff=0.75)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        reason = str(exc).split("\n")[0].removeprefix("litellm.BadRequestError: ")
        raise UnknownModelError(
            f"litellm does not know the model {model!r} ({reason[:160]}).{hint} Prefix it "
            "with its provider (anthropic/..., ollama/...), or for an OpenAI-compatible "
            "server use openai/<name> with api_base") from None
    return provider


@dataclass(frozen=True)
class Answer:
    text: str
    finish_reason: str | None
    usage: dict[str, Any]  # prompt_tokens, completion_tokens, cost_usd, latency_ms, tries


class _Transient(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _is_transient(litellm: Any, exc: BaseException) -> bool:
    kinds = tuple(getattr(litellm, name) for name in TRANSIENT if hasattr(litellm, name))
    if isinstance(exc, kinds):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status == 429 or status >= 500)


async def complete(model: str, messages: list[dict[str, str]], *, max_retries: int,
                   backoff_first: float, backoff_cap: float, **kwargs: Any) -> Answer:
    """``litellm.acompletion`` with our retries; LLMProviderError when it fails."""
    litellm = import_litellm()
    tries = 0

    async def once() -> Any:
        nonlocal tries
        tries += 1
        try:
            return await litellm.acompletion(model=model, messages=messages, num_retries=0,
                                              max_retries=0, **kwargs)
        except Exception as exc:
            if _is_transient(litellm, exc):
                raise _Transient(exc) from exc
            raise

    started = time.perf_counter()
    try:
        response = await retry(once, retry_on=_Transient,
                               delays=backoff(backoff_first, backoff_cap),
                               attempts=max_retries + 1)
    except _Transient as exc:
        raise LLMProviderError(
            f"the model {model!r} failed {tries} times ({_short(exc.error)}); check that "
            "its provider is reachable and within its rate limits (api_base, API key), or "
            "raise max_retries") from exc.error
    except LLMProviderError:
        raise
    except Exception as exc:  # the provider refused the request itself
        raise LLMProviderError(
            f"the model {model!r} refused the request ({_short(exc)}); retrying would not "
            "help: check the model's name, the API key and the parameters") from exc
    latency_ms = (time.perf_counter() - started) * 1000
    choice = response.choices[0]
    usage = getattr(response, "usage", None)
    try:
        cost: float | None = float(litellm.completion_cost(completion_response=response))
    except Exception:  # noqa: BLE001 - a model without a price (local ones) has no cost
        cost = None
    return Answer(
        text=str(choice.message.content or ""),
        finish_reason=getattr(choice, "finish_reason", None),
        usage={"prompt_tokens": getattr(usage, "prompt_tokens", None),
               "completion_tokens": getattr(usage, "completion_tokens", None),
               "cost_usd": cost, "latency_ms": round(latency_ms, 2), "tries": tries})


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


def supports_schema(model: str) -> bool:
    litellm = import_litellm()
    try:
        return bool(litellm.supports_response_schema(model=model))
    except Exception:  # noqa: BLE001 - unknown to litellm's map: no structured output
        return False
