"""What the LLM examples share about litellm: importing it (late, offline, its
response types built once), calls whose only retries are htdag's, and the
provider's errors sorted into retried and refused."""

from __future__ import annotations

import functools
import os
import warnings
from typing import Any

from htdag import NonRetryableError
from htdag.errors import HtdagError


class ProviderUnavailable(HtdagError):
    """The provider failed for now (rate limit, server error, timeout): the task is retried."""


class ProviderRefused(NonRetryableError):
    """The provider refused the request itself: check the model, the API key, the parameters."""


@functools.cache
def import_litellm() -> Any:
    """litellm, imported on first use (it takes seconds) without reaching the
    network (LITELLM_LOCAL_MODEL_COST_MAP: the price map it ships with)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # no provider list printed on stdout
    with warnings.catch_warnings():
        # litellm's response types finish building on their first use, and pydantic
        # warns then about their ReadOnly TypedDict items: build them here, once.
        warnings.filterwarnings("ignore", message=".*ReadOnly.*", category=UserWarning)
        litellm.ModelResponse()
        litellm.EmbeddingResponse()
    return litellm


def call_options(*, api_base: str | None, api_key: str | None, mock_response: Any,
                 timeout: float) -> dict[str, Any]:
    """Keyword arguments of a litellm call: the provider's address, no retries
    of litellm's or of the OpenAI client's own (htdag's are the only ones, each
    an attempt recorded), and ``mock_response`` when no provider is wanted."""
    options: dict[str, Any] = {"timeout": timeout, "num_retries": 0, "max_retries": 0}
    for name, value in (("api_base", api_base), ("api_key", api_key),
                        ("mock_response", mock_response)):
        if value is not None:
            options[name] = value
    return options


def provider_error(model: str, exc: Exception) -> HtdagError:
    """A provider's exception as ours: a refusal (4xx but 408, 409, 429) fails
    at once; anything else (429, 5xx, timeouts, connections) is retried."""
    status = getattr(exc, "status_code", None)
    detail = " ".join(str(exc).split())[:300]
    if isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 429):
        return ProviderRefused(f"{model} refused the request (HTTP {status}: {detail}); "
                               "retrying would not help: check the model, key and parameters")
    return ProviderUnavailable(f"{model} failed (HTTP {status or '-'}, {type(exc).__name__}: "
                               f"{detail}); htdag retries it with backoff")


def openai_client_without_retries(model: str, api_base: str | None, api_key: str | None,
                                  timeout: float) -> Any:
    """For an OpenAI(-compatible) model, an AsyncOpenAI client that never
    retries by itself; None for other providers (close it after the call).

    litellm turns ``max_retries=0`` into its default of 2 for embeddings
    (``max_retries or DEFAULT_MAX_RETRIES``, BerriAI/litellm#7003) and sets that
    on a client passed in; this client's ``max_retries`` stays 0."""
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if not key:
        return None
    try:
        provider = import_litellm().get_llm_provider(model=model, api_base=api_base)[1]
    except Exception:  # noqa: BLE001 - an unknown model: litellm's call says so itself
        return None
    if provider != "openai":
        return None
    from openai import AsyncOpenAI

    class AsyncOpenAIWithoutRetries(AsyncOpenAI):
        @property
        def max_retries(self) -> int:
            return 0

        @max_retries.setter
        def max_retries(self, value: int) -> None:
            pass  # litellm's default is ignored on purpose

    return AsyncOpenAIWithoutRetries(api_key=key, base_url=api_base, timeout=timeout)
