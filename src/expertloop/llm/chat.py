"""Calling an OpenAI-compatible chat-completions endpoint through the official ``openai``
client: retries with backoff on 429 (honouring ``Retry-After``), 5xx, timeouts and dropped
connections; a limit on concurrent calls per provider in this process; errors mapped to the
exception tree (:class:`~expertloop.errors.UpstreamError` 502,
:class:`~expertloop.errors.UpstreamTimeout` 504).

The ``openai`` client's own retries are off (``max_retries=0``) so that one loop here decides
how long to wait and counts attempts the same way for every failure.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from expertloop.errors import UpstreamError, UpstreamTimeout
from expertloop.llm.completion import Completion, ProviderConfig

__all__ = ["MAX_RETRY_AFTER_SECONDS", "call_chat", "retry_delay"]

# A Retry-After longer than this is cut to it: a job would rather fail and be retried later.
MAX_RETRY_AFTER_SECONDS = 60.0
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 20.0
# Parameters the client takes by name; any other goes in the request body as is.
_NAMED = frozenset(
    {
        "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop",
        "presence_penalty", "frequency_penalty", "response_format", "logit_bias", "n",
        "reasoning_effort", "user",
    }
)

_limits: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_limits_lock = threading.Lock()


def _limit(config: ProviderConfig) -> threading.BoundedSemaphore:
    key = (config.name, max(1, config.concurrency))
    with _limits_lock:
        semaphore = _limits.get(key)
        if semaphore is None:
            semaphore = _limits[key] = threading.BoundedSemaphore(key[1])
        return semaphore


def _retry_after(headers: Mapping[str, str] | Any) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, or ``Retry-After`` as
    seconds or an HTTP date."""
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


def retry_delay(attempt: int, retry_after: float | None, rng: random.Random) -> float:
    """How long to wait before retry number ``attempt`` (from 1): the server's
    ``Retry-After`` when it sent one (capped), else exponential backoff with full jitter."""
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER_SECONDS)
    return rng.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempt - 1)))


def _upstream(config: ProviderConfig, exc: Exception) -> UpstreamError:
    import openai  # imported on use, as in call_chat

    if isinstance(exc, openai.APITimeoutError):
        return UpstreamTimeout(
            f"provider {config.name!r} did not answer within {config.timeout:g} s",
            details={"provider": config.name},
        )
    if isinstance(exc, openai.APIStatusError):
        body = exc.response.text[:500] if exc.response is not None else ""
        return UpstreamError(
            f"provider {config.name!r} answered HTTP {exc.status_code}: {body}",
            details={"provider": config.name, "upstream_status": exc.status_code},
        )
    if isinstance(exc, openai.APIConnectionError):
        return UpstreamError(
            f"cannot reach provider {config.name!r} at {config.base_url}: {exc}",
            details={"provider": config.name},
        )
    return UpstreamError(
        f"provider {config.name!r} sent a malformed response: {exc}",
        details={"provider": config.name},
    )


def _retryable(exc: Exception) -> bool:
    import openai

    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _completion(
    config: ProviderConfig, response: Any, params: dict[str, Any], seed: int | None,
    latency_ms: float,
) -> Completion:
    choices = getattr(response, "choices", None)
    if not choices:
        raise UpstreamError(
            f"provider {config.name!r} sent a completion without choices",
            details={"provider": config.name},
        )
    choice = choices[0]
    message = getattr(choice, "message", None)
    text = getattr(message, "content", None)
    if text is not None and not isinstance(text, str):
        raise UpstreamError(
            f"provider {config.name!r} sent a non-text message content",
            details={"provider": config.name},
        )
    usage = getattr(response, "usage", None)
    extra = (getattr(usage, "model_extra", None) or {}) if usage is not None else {}
    prompt_tokens = getattr(usage, "prompt_tokens", None) if usage is not None else None
    completion_tokens = getattr(usage, "completion_tokens", None) if usage is not None else None
    return Completion(
        text=text or "",
        finish_reason=str(getattr(choice, "finish_reason", None) or "unknown"),
        provider=config.name,
        model=str(getattr(response, "model", None) or config.model),
        params=params,
        seed=seed,
        prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else None,
        completion_tokens=completion_tokens if isinstance(completion_tokens, int) else None,
        latency_ms=latency_ms,
        cost=_number(extra.get("cost")),
    )


def call_chat(
    config: ProviderConfig,
    messages: Sequence[Mapping[str, str]],
    *,
    params: Mapping[str, Any] | None = None,
    seed: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> Completion:
    """One chat completion from ``config``'s endpoint with ``params`` (already merged with
    the provider's defaults), retried up to ``config.max_retries`` times on 429, 5xx,
    timeouts and dropped connections. ``latency_ms`` covers the successful attempt only.

    Raises :class:`~expertloop.errors.UpstreamTimeout` when the last attempt timed out,
    :class:`~expertloop.errors.UpstreamError` for any other failure.
    """
    params = dict(params or {})
    named = {key: value for key, value in params.items() if key in _NAMED}
    extra = {key: value for key, value in params.items() if key not in _NAMED}
    if seed is not None:
        named["seed"] = seed
    # Imported on use: the client library takes about a second to load, and every server
    # and CLI process would pay it at start-up.
    import openai

    client = openai.OpenAI(
        base_url=config.base_url,
        api_key=config.api_key or "not-needed",
        timeout=config.timeout,
        max_retries=0,
    )
    rng = rng or random.Random()
    attempt = 0
    try:
        while True:
            with _limit(config):
                started = time.perf_counter()
                try:
                    response = client.chat.completions.create(
                        model=config.model,
                        messages=[dict(m) for m in messages],  # type: ignore[misc]
                        extra_body=extra or None,
                        **named,
                    )
                    latency_ms = (time.perf_counter() - started) * 1000
                    return _completion(config, response, params, seed, latency_ms)
                except UpstreamError:
                    raise
                except Exception as exc:  # the client's errors, and bodies it cannot parse
                    error: Exception = exc
            attempt += 1
            if not _retryable(error) or attempt > config.max_retries:
                raise _upstream(config, error) from error
            response_headers = getattr(getattr(error, "response", None), "headers", None)
            sleep(retry_delay(attempt, _retry_after(response_headers), rng))
    finally:
        client.close()
