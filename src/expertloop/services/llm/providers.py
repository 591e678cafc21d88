"""Model providers as admins configure them: add, list, change, remove, test.

A provider's API key is either the name of an environment variable read at call time
(``api_key_env``) or the key itself, stored encrypted with a key derived from the app's
secret key (``api_key``). Neither is ever returned: a provider shows only which kind of key
it has. Every change is audited (without the key).
"""

from __future__ import annotations

import os
import re
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from expertloop.domain import Role, User
from expertloop.domain.safe_json import json_problem
from expertloop.errors import InputInvalid, NotFound, PermissionDenied, UpstreamUnavailable
from expertloop.llm import KeyUnreadable, ProviderConfig, decrypt_api_key, encrypt_api_key
from expertloop.settings import Settings
from expertloop.store import Database, audit
from expertloop.store import llm as llm_store
from expertloop.store.llm import ProviderRow

__all__ = [
    "KEEP",
    "Provider",
    "add_provider",
    "check_params",
    "delete_provider",
    "get_provider",
    "list_providers",
    "provider_config",
    "update_provider",
    "use_secret_key",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")
MAX_PARAMS_BYTES = 10_000
MAX_TIMEOUT_SECONDS = 3600.0
MAX_RETRIES = 10
MAX_CONCURRENCY = 256


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()
"""An argument of :func:`update_provider` left as it is."""

_secrets: weakref.WeakKeyDictionary[Database, str] = weakref.WeakKeyDictionary()
_secrets_lock = threading.Lock()


def use_secret_key(db: Database, secret_key: str) -> None:
    """Encrypt and decrypt the provider keys stored in ``db`` with ``secret_key`` (the app
    factory calls this with its settings'). A database nobody registered uses the
    ``EXPERTLOOP_SECRET_KEY`` of the environment, as the CLI and job workers do."""
    with _secrets_lock:
        _secrets[db] = secret_key


def _secret_key(db: Database) -> str:
    with _secrets_lock:
        known = _secrets.get(db)
    return known if known is not None else Settings().secret_key


@dataclass(frozen=True, slots=True)
class Provider:
    """A provider as people see it: everything but the key, and where the key comes from
    (``"env"``, ``"stored"`` or ``"none"``)."""

    id: int
    name: str
    base_url: str
    model: str
    params: dict[str, Any]
    timeout_seconds: float
    max_retries: int
    concurrency: int
    api_key_env: str | None
    key_source: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ProviderRow) -> Provider:
        source = "env" if row.api_key_env else "stored" if row.api_key_encrypted else "none"
        return cls(
            id=row.id, name=row.name, base_url=row.base_url, model=row.model,
            params=dict(row.params), timeout_seconds=row.timeout_seconds,
            max_retries=row.max_retries, concurrency=row.concurrency,
            api_key_env=row.api_key_env, key_source=source,
            created_at=row.created_at, updated_at=row.updated_at,
        )


def _check_admin(actor: User | None) -> None:
    if actor is not None and actor.role is not Role.ADMIN:
        raise PermissionDenied("only admins can configure model providers")


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputInvalid.on_field(
            "name", "a provider name is 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
        )
    return name


def _check_base_url(base_url: str) -> str:
    base_url = base_url.strip()
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(base_url) > 500:
        raise InputInvalid.on_field(
            "base_url", "base_url must be an http(s) URL of at most 500 characters, "
            "such as https://api.openai.com/v1"
        )
    return base_url.rstrip("/")


def _check_model(model: str) -> str:
    model = model.strip()
    if not model or len(model) > 200:
        raise InputInvalid.on_field("model", "model must be 1-200 characters")
    return model


def check_params(params: Any, field: str = "params") -> dict[str, Any]:
    """Model parameters: a JSON object of at most 10 kB that is safe to store."""
    if not isinstance(params, dict):
        raise InputInvalid.on_field(field, f"{field} must be a JSON object")
    problem = json_problem(params, path=field)
    if problem is not None:
        raise InputInvalid.on_field(problem.field, problem.message)
    if len(repr(params)) > MAX_PARAMS_BYTES:
        raise InputInvalid.on_field(field, f"{field} must be under {MAX_PARAMS_BYTES} bytes")
    if any(key in ("model", "messages", "stream", "seed") for key in params):
        raise InputInvalid.on_field(
            field, f"{field} must not set model, messages, stream or seed (they have their "
            "own fields)"
        )
    return dict(params)


def _check_numbers(timeout_seconds: float, max_retries: int, concurrency: int) -> None:
    if not 0 < timeout_seconds <= MAX_TIMEOUT_SECONDS:
        raise InputInvalid.on_field(
            "timeout_seconds", f"timeout_seconds must be in (0, {MAX_TIMEOUT_SECONDS:g}]"
        )
    if not 0 <= max_retries <= MAX_RETRIES:
        raise InputInvalid.on_field("max_retries", f"max_retries must be 0-{MAX_RETRIES}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InputInvalid.on_field("concurrency", f"concurrency must be 1-{MAX_CONCURRENCY}")


def _key_columns(
    db: Database, api_key: str | None, api_key_env: str | None
) -> dict[str, str | None]:
    if api_key is not None and api_key_env is not None:
        raise InputInvalid.on_field(
            "api_key", "give either api_key or api_key_env, not both"
        )
    if api_key_env is not None and not _ENV_NAME.match(api_key_env):
        raise InputInvalid.on_field(
            "api_key_env", "api_key_env must be an environment variable name (A-Z, 0-9, _)"
        )
    if api_key is not None and not 0 < len(api_key) <= 1000:
        raise InputInvalid.on_field("api_key", "api_key must be 1-1000 characters")
    encrypted = encrypt_api_key(_secret_key(db), api_key) if api_key is not None else None
    return {"api_key_env": api_key_env, "api_key_encrypted": encrypted}


def _audited(provider: Provider) -> dict[str, Any]:
    return {
        "name": provider.name, "base_url": provider.base_url, "model": provider.model,
        "params": provider.params, "timeout_seconds": provider.timeout_seconds,
        "max_retries": provider.max_retries, "concurrency": provider.concurrency,
        "api_key_env": provider.api_key_env, "key_source": provider.key_source,
    }


def add_provider(
    db: Database,
    *,
    actor: User | None,
    name: str,
    base_url: str,
    model: str,
    params: dict[str, Any] | None = None,
    timeout_seconds: float = 60.0,
    max_retries: int = 3,
    concurrency: int = 4,
    api_key: str | None = None,
    api_key_env: str | None = None,
) -> Provider:
    """Configure a provider (admins; ``actor=None`` is the operator at the command line)."""
    _check_admin(actor)
    values = {
        "name": _check_name(name),
        "base_url": _check_base_url(base_url),
        "model": _check_model(model),
        "params": check_params(params or {}),
        "timeout_seconds": float(timeout_seconds),
        "max_retries": int(max_retries),
        "concurrency": int(concurrency),
    }
    _check_numbers(timeout_seconds, max_retries, concurrency)
    values.update(_key_columns(db, api_key, api_key_env))
    now = db.clock.now()
    with db.write() as conn:
        provider = Provider.of(
            llm_store.insert_provider(conn, **values, created_at=now, updated_at=now)
        )
        audit.record_event(
            conn, action="llm.provider_added", actor_id=actor.id if actor else None, now=now,
            details={"provider": provider.name}, after=_audited(provider),
        )
    return provider


def _row(conn: Any, name: str) -> ProviderRow:
    row = llm_store.get_provider(conn, name)
    if row is None:
        raise NotFound(f"no model provider named {name!r}")
    return row


def get_provider(db: Database, *, actor: User | None, name: str) -> Provider:
    _check_admin(actor)
    with db.read() as conn:
        return Provider.of(_row(conn, name))


def list_providers(db: Database, *, actor: User | None) -> list[Provider]:
    _check_admin(actor)
    with db.read() as conn:
        return [Provider.of(row) for row in llm_store.list_providers(conn)]


def update_provider(
    db: Database,
    *,
    actor: User | None,
    name: str,
    base_url: Any = KEEP,
    model: Any = KEEP,
    params: Any = KEEP,
    timeout_seconds: Any = KEEP,
    max_retries: Any = KEEP,
    concurrency: Any = KEEP,
    api_key: Any = KEEP,
    api_key_env: Any = KEEP,
) -> Provider:
    """Change some of a provider's settings. Giving ``api_key`` or ``api_key_env`` replaces
    the key source (``None`` for both removes the key)."""
    _check_admin(actor)
    now = db.clock.now()
    with db.write() as conn:
        row = _row(conn, name)
        before = Provider.of(row)
        values: dict[str, Any] = {}
        if base_url is not KEEP:
            values["base_url"] = _check_base_url(base_url)
        if model is not KEEP:
            values["model"] = _check_model(model)
        if params is not KEEP:
            values["params"] = check_params(params)
        for key, given in (
            ("timeout_seconds", timeout_seconds), ("max_retries", max_retries),
            ("concurrency", concurrency),
        ):
            if given is not KEEP:
                values[key] = given
        _check_numbers(
            values.get("timeout_seconds", row.timeout_seconds),
            values.get("max_retries", row.max_retries),
            values.get("concurrency", row.concurrency),
        )
        if api_key is not KEEP or api_key_env is not KEEP:
            values.update(
                _key_columns(
                    db,
                    None if api_key is KEEP else api_key,
                    None if api_key_env is KEEP else api_key_env,
                )
            )
        after = Provider.of(llm_store.update_provider(conn, row.id, **values, updated_at=now))
        audit.record_event(
            conn, action="llm.provider_changed", actor_id=actor.id if actor else None, now=now,
            details={"provider": name, "key_changed": "api_key_encrypted" in values},
            before=_audited(before), after=_audited(after),
        )
    return after


def delete_provider(db: Database, *, actor: User | None, name: str) -> None:
    """Remove a provider; its recorded calls stay (they name it)."""
    _check_admin(actor)
    now = db.clock.now()
    with db.write() as conn:
        row = _row(conn, name)
        llm_store.delete_provider(conn, row.id)
        audit.record_event(
            conn, action="llm.provider_removed", actor_id=actor.id if actor else None, now=now,
            details={"provider": name}, before=_audited(Provider.of(row)),
        )


def provider_config(db: Database, row: ProviderRow) -> ProviderConfig:
    """What the call needs, with the API key resolved (from the environment, or decrypted)."""
    api_key: str | None = None
    if row.api_key_env:
        api_key = os.environ.get(row.api_key_env)
        if not api_key:
            raise UpstreamUnavailable(
                f"provider {row.name!r} reads its API key from ${row.api_key_env}, "
                "which is not set in this process's environment"
            )
    elif row.api_key_encrypted:
        try:
            api_key = decrypt_api_key(_secret_key(db), row.api_key_encrypted)
        except KeyUnreadable as exc:
            raise UpstreamUnavailable(
                f"provider {row.name!r}'s stored API key cannot be decrypted with this "
                "server's secret key (was EXPERTLOOP_SECRET_KEY changed?): set it again"
            ) from exc
    return ProviderConfig(
        name=row.name, base_url=row.base_url, model=row.model, params=dict(row.params),
        timeout=row.timeout_seconds, max_retries=row.max_retries,
        concurrency=row.concurrency, api_key=api_key,
    )
