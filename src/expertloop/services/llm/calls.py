"""One chat completion for a use case: look the provider up, reuse a recorded completion
when one has the same key, else call the provider and record the call (success or failure).

Recording every call, with why it was made (``purpose``, project, item), is the provenance
of every model output the platform keeps; the record doubles as a cache, so a job killed
half-way and run again pays only for the calls it had not made.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from expertloop.domain.safe_json import MAX_SAFE_INTEGER
from expertloop.errors import InputInvalid, NotFound, UpstreamError
from expertloop.llm import Completion, cache_key, call_chat, merged_params
from expertloop.services.llm.providers import check_params, provider_config
from expertloop.store import Database
from expertloop.store import llm as llm_store
from expertloop.store.llm import CallRecord

__all__ = [
    "MAX_MESSAGES",
    "MAX_PROMPT_CHARS",
    "check_messages",
    "complete",
    "completion_of",
    "list_calls",
]

MAX_MESSAGES = 500
MAX_PROMPT_CHARS = 2_000_000
_ROLES = frozenset({"system", "user", "assistant"})
_PURPOSE = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,63}$")


def check_messages(messages: Any) -> list[dict[str, str]]:
    """Chat messages: a non-empty list of ``{"role", "content"}`` with a known role and
    text content, bounded in count and size."""
    if not isinstance(messages, list) or not messages:
        raise InputInvalid.on_field("messages", "messages must be a non-empty list")
    if len(messages) > MAX_MESSAGES:
        raise InputInvalid.on_field("messages", f"at most {MAX_MESSAGES} messages")
    checked: list[dict[str, str]] = []
    size = 0
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, dict) or set(message) - {"role", "content", "name"}:
            raise InputInvalid.on_field(where, "a message is an object with role and content")
        role, content = message.get("role"), message.get("content")
        if role not in _ROLES:
            raise InputInvalid.on_field(f"{where}.role", f"role must be one of {sorted(_ROLES)}")
        if not isinstance(content, str):
            raise InputInvalid.on_field(f"{where}.content", "content must be text")
        size += len(content)
        checked.append({key: str(value) for key, value in message.items()})
    if size > MAX_PROMPT_CHARS:
        raise InputInvalid.on_field(
            "messages", f"messages must total under {MAX_PROMPT_CHARS} characters"
        )
    return checked


def completion_of(record: CallRecord, *, cached: bool) -> Completion:
    """The completion a recorded successful call holds."""
    return Completion(
        text=record.text or "",
        finish_reason=record.finish_reason or "unknown",
        provider=record.provider,
        model=record.model,
        params=dict(record.params),
        seed=record.seed,
        prompt_tokens=record.prompt_tokens,
        completion_tokens=record.completion_tokens,
        latency_ms=record.latency_ms,
        cost=record.cost,
        cached=cached,
        call_id=record.id,
    )


def complete(
    db: Database,
    *,
    provider: str,
    messages: list[dict[str, str]],
    params: dict[str, Any] | None = None,
    seed: int | None = None,
    purpose: str,
    project_id: int | None = None,
    item_id: int | None = None,
    cache: bool = True,
) -> Completion:
    """A chat completion from the provider named ``provider``, recorded in ``llm_calls``.

    ``params`` override the provider's defaults (``None`` as a value drops one). With
    ``cache`` (the default) a successful call recorded earlier with the same endpoint,
    model, messages, parameters and seed is returned instead of calling again
    (``cached=True``, its ``call_id``); give distinct seeds to draw distinct samples.

    Raises :class:`~expertloop.errors.NotFound` (404) for an unknown provider,
    :class:`~expertloop.errors.InputInvalid` (422) for bad messages or parameters,
    :class:`~expertloop.errors.UpstreamUnavailable` (503) when its key is missing,
    :class:`~expertloop.errors.UpstreamTimeout` (504) and
    :class:`~expertloop.errors.UpstreamError` (502) when the provider fails; failed calls
    are recorded with their error.
    """
    checked = check_messages(messages)
    extra = check_params(params or {})
    if seed is not None and (
        isinstance(seed, bool) or not -MAX_SAFE_INTEGER <= seed <= MAX_SAFE_INTEGER
    ):
        raise InputInvalid.on_field("seed", "seed must be an integer within ±2**53")
    if not _PURPOSE.match(purpose):
        raise InputInvalid.on_field(
            "purpose", "purpose is 1-64 lowercase letters, digits, '.', '_', ':' or '-'"
        )
    with db.read() as conn:
        row = llm_store.get_provider(conn, provider)
    if row is None:
        raise NotFound(f"no model provider named {provider!r}")
    config = provider_config(db, row)
    sent = merged_params(config.params, extra)
    key = cache_key(config.model, [{"endpoint": config.base_url}, *checked], sent, seed)
    if cache:
        with db.read() as conn:
            hit = llm_store.find_cached_call(conn, key)
        if hit is not None:
            return completion_of(hit, cached=True)
    record: dict[str, Any] = {
        "provider_id": row.id, "provider": row.name, "model": config.model,
        "messages": checked, "params": sent, "seed": seed, "cache_key": key,
        "purpose": purpose, "project_id": project_id, "item_id": item_id,
    }
    try:
        completion = call_chat(config, checked, params=sent, seed=seed)
    except UpstreamError as exc:
        with db.write() as conn:
            llm_store.insert_call(
                conn, **record, latency_ms=0.0, error=exc.message[:2000],
                created_at=db.clock.now(),
            )
        raise
    with db.write() as conn:
        call_id = llm_store.insert_call(
            conn, **(record | {"model": completion.model}), **_outcome(completion),
            created_at=db.clock.now(),
        )
    return Completion(**{**_fields(completion), "call_id": call_id})


def _outcome(completion: Completion) -> dict[str, Any]:
    return {
        "text": completion.text, "finish_reason": completion.finish_reason[:32],
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "latency_ms": completion.latency_ms, "cost": completion.cost,
    }


def _fields(completion: Completion) -> dict[str, Any]:
    return {name: getattr(completion, name) for name in Completion.__slots__}


def list_calls(
    db: Database,
    *,
    project_id: int | None = None,
    item_ids: Sequence[int] | None = None,
    purpose: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[CallRecord]:
    """Recorded calls in id order (for provenance pages and exports)."""
    with db.read() as conn:
        return llm_store.list_calls(
            conn, project_id=project_id, item_ids=item_ids, purpose=purpose,
            after_id=after_id, limit=min(max(limit, 1), 1000),
        )
