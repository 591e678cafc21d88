"""Model providers and the record of calls to them (see ``services/llm``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from expertloop.errors import AlreadyExists
from expertloop.store import tables as t

__all__ = [
    "CallRecord",
    "ProviderRow",
    "delete_provider",
    "find_cached_call",
    "get_provider",
    "insert_call",
    "insert_provider",
    "list_calls",
    "list_providers",
    "update_provider",
]


@dataclass(frozen=True, slots=True)
class ProviderRow:
    id: int
    name: str
    base_url: str
    model: str
    params: dict[str, Any]
    timeout_seconds: float
    max_retries: int
    concurrency: int
    api_key_env: str | None
    api_key_encrypted: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CallRecord:
    id: int
    provider_id: int | None
    provider: str
    model: str
    messages: list[Any]
    params: dict[str, Any]
    seed: int | None
    cache_key: str
    purpose: str
    project_id: int | None
    item_id: int | None
    text: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float
    cost: float | None
    error: str | None
    created_at: datetime


_PROVIDER_COLUMNS = [getattr(t.LlmProvider, name) for name in ProviderRow.__slots__]
_CALL_COLUMNS = [getattr(t.LlmCall, name) for name in CallRecord.__slots__]


def _provider(row: Any) -> ProviderRow:
    return ProviderRow(**row._mapping)


def _call(row: Any) -> CallRecord:
    return CallRecord(**row._mapping)


def insert_provider(conn: Connection, **values: Any) -> ProviderRow:
    """A new provider; :class:`~expertloop.errors.AlreadyExists` when the name is taken."""
    try:
        with conn.begin_nested():
            row = conn.execute(
                insert(t.LlmProvider).values(**values).returning(*_PROVIDER_COLUMNS)
            ).one()
    except IntegrityError as exc:
        raise AlreadyExists.on_field(
            "name", f"a provider named {values.get('name')!r} exists already"
        ) from exc
    return _provider(row)


def get_provider(conn: Connection, name: str) -> ProviderRow | None:
    row = conn.execute(
        select(*_PROVIDER_COLUMNS).where(t.LlmProvider.name == name)
    ).one_or_none()
    return _provider(row) if row is not None else None


def list_providers(conn: Connection) -> list[ProviderRow]:
    rows = conn.execute(select(*_PROVIDER_COLUMNS).order_by(t.LlmProvider.name))
    return [_provider(row) for row in rows]


def update_provider(conn: Connection, provider_id: int, **values: Any) -> ProviderRow:
    row = conn.execute(
        update(t.LlmProvider)
        .where(t.LlmProvider.id == provider_id)
        .values(**values)
        .returning(*_PROVIDER_COLUMNS)
    ).one()
    return _provider(row)


def delete_provider(conn: Connection, provider_id: int) -> None:
    conn.execute(delete(t.LlmProvider).where(t.LlmProvider.id == provider_id))


def insert_call(conn: Connection, **values: Any) -> int:
    inserted = conn.execute(insert(t.LlmCall).values(**values).returning(t.LlmCall.id))
    return int(inserted.scalar_one())


def find_cached_call(conn: Connection, cache_key: str) -> CallRecord | None:
    """The first successful call recorded under ``cache_key`` (the one every later call
    with that key reuses, so all of them see the same text)."""
    row = conn.execute(
        select(*_CALL_COLUMNS)
        .where(t.LlmCall.cache_key == cache_key, t.LlmCall.error.is_(None))
        .order_by(t.LlmCall.id)
        .limit(1)
    ).one_or_none()
    return _call(row) if row is not None else None


def list_calls(
    conn: Connection,
    *,
    project_id: int | None = None,
    item_ids: Sequence[int] | None = None,
    purpose: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[CallRecord]:
    query = select(*_CALL_COLUMNS).where(t.LlmCall.id > after_id)
    if project_id is not None:
        query = query.where(t.LlmCall.project_id == project_id)
    if item_ids is not None:
        query = query.where(t.LlmCall.item_id.in_(list(item_ids)))
    if purpose is not None:
        query = query.where(t.LlmCall.purpose == purpose)
    return [_call(row) for row in conn.execute(query.order_by(t.LlmCall.id).limit(limit))]
