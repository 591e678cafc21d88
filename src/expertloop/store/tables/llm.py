"""Model providers, recorded calls, judges' verdicts and a project's model settings
(docs/llm.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.store.tables._base import Base, BigId, Json, NullableJson


class LlmProvider(Base):
    """An OpenAI-compatible endpoint admins configured: base URL, model, default parameters,
    timeout, retries and concurrency. Its API key is the name of an environment variable
    (``api_key_env``) or the key encrypted with the app's secret key (``api_key_encrypted``),
    never both; the API never returns either secret."""

    __tablename__ = "llm_providers"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint("timeout_seconds > 0", name="timeout_positive"),
        CheckConstraint("max_retries >= 0", name="max_retries_nonnegative"),
        CheckConstraint("concurrency >= 1", name="concurrency_positive"),
        CheckConstraint(
            "api_key_env IS NULL OR api_key_encrypted IS NULL", name="one_key_source"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    base_url: Mapped[str] = mapped_column(String(500))
    model: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(Json)
    timeout_seconds: Mapped[float] = mapped_column(Float)
    max_retries: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    api_key_env: Mapped[str | None] = mapped_column(String(200))
    api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class LlmCall(Base):
    """One call to a model provider, successful or not: what was sent (model, messages,
    parameters, seed), what came back (text, finish reason, tokens, cost), how long it took,
    why it was made (``purpose``, project, item) and the error if it failed. ``cache_key``
    digests model, messages, parameters and seed: a later call with the same key reuses the
    recorded text instead of calling again (so a job resumed after a crash does not pay
    twice)."""

    __tablename__ = "llm_calls"
    __table_args__ = (
        Index("ix_llm_calls_cache_key", "cache_key"),
        Index("ix_llm_calls_project_id_id", "project_id", "id"),
        Index("ix_llm_calls_item_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("llm_providers.id", ondelete="SET NULL")
    )
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    messages: Mapped[list[Any]] = mapped_column(Json)
    params: Mapped[dict[str, Any]] = mapped_column(Json)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    cache_key: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE")
    )
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    text: Mapped[str | None] = mapped_column(Text)
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    cost: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class LlmVerdict(Base):
    """A model judge's verdict on an item: a model suggestion in canonical answer terms,
    never an answer. One per (item, judge); judging again replaces it. ``value`` holds only
    what the judge was sure of (``None`` when nothing); ``unsure`` marks an item whose
    primary verdict is unsure (a pair judged inconsistently in its two orders, a reply that
    did not parse). ``call_ids`` are the recorded calls it came from (provenance)."""

    __tablename__ = "llm_verdicts"
    __table_args__ = (
        UniqueConstraint("item_id", "judge"),
        Index("ix_llm_verdicts_project_id_judge_item_id", "project_id", "judge", "item_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    judge: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    value: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)
    unsure: Mapped[bool] = mapped_column(Boolean)
    details: Mapped[dict[str, Any]] = mapped_column(Json)
    call_ids: Mapped[list[Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class LlmProjectSettings(Base):
    """A project's model settings: whether its experts see the judges' verdicts on the
    items they work on (off unless the project says so), and the triage rule in force
    with the agreement measured when it was set (for the export card)."""

    __tablename__ = "llm_project_settings"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    show_verdicts: Mapped[bool] = mapped_column(Boolean)
    triage: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
