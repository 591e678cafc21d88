"""What a chat completion is, what a provider is, and the key a completion is cached under."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Completion",
    "ProviderConfig",
    "cache_key",
    "merged_params",
]


@dataclass(frozen=True, slots=True)
class Completion:
    """One chat completion, with its provenance.

    ``params`` are the parameters sent (the provider's defaults merged with the call's);
    ``cost`` is what the provider reported for the call, when it reports one; ``cached`` says
    the text came from an earlier recorded call with the same model, messages, parameters
    and seed (``call_id`` then names that call).
    """

    text: str
    finish_reason: str
    provider: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float = 0.0
    cost: float | None = None
    cached: bool = False
    call_id: int | None = None

    @property
    def truncated(self) -> bool:
        """The model stopped at its token limit: the text is cut short."""
        return self.finish_reason == "length"


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """How to reach one OpenAI-compatible endpoint: base URL, model, default parameters,
    timeout in seconds, retries after a 429, a 5xx or a timeout, how many calls may run at
    once in this process, and the API key itself (resolved by the caller, never stored
    here in clear beyond the call)."""

    name: str
    base_url: str
    model: str
    params: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 60.0
    max_retries: int = 3
    concurrency: int = 4
    api_key: str | None = None


def merged_params(defaults: Mapping[str, Any], params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The provider's default parameters overridden by the call's (a ``None`` value in the
    call removes a default)."""
    merged = dict(defaults)
    for key, value in (params or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def cache_key(
    model: str,
    messages: Sequence[Mapping[str, str]],
    params: Mapping[str, Any],
    seed: int | None,
) -> str:
    """A stable digest of what determines a completion: two calls with equal keys may share
    one answer. Canonical JSON (sorted keys), so the order of parameters does not matter."""
    body = json.dumps(
        {"model": model, "messages": list(messages), "params": dict(params), "seed": seed},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()
