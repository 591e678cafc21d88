"""Trying a provider out: one short completion, recorded like any other call."""

from __future__ import annotations

from dataclasses import dataclass

from expertloop.domain import User
from expertloop.errors import ExpertloopError
from expertloop.services.llm.calls import complete
from expertloop.services.llm.providers import get_provider
from expertloop.store import Database

__all__ = ["ProviderTest", "test_provider"]

_PROMPT = "Reply with the single word: ok"


@dataclass(frozen=True, slots=True)
class ProviderTest:
    """Whether the provider answered, what, how fast, or the error it gave."""

    provider: str
    ok: bool
    text: str | None
    model: str | None
    finish_reason: str | None
    latency_ms: float | None
    error: str | None
    error_code: str | None


def test_provider(db: Database, *, actor: User | None, name: str) -> ProviderTest:
    """Send one tiny prompt to the provider (never from the cache) and report the outcome;
    an upstream failure is the outcome, not an error (admins; unknown name: 404)."""
    get_provider(db, actor=actor, name=name)
    try:
        completion = complete(
            db, provider=name, messages=[{"role": "user", "content": _PROMPT}],
            params={"max_tokens": 16}, purpose="provider.test", cache=False,
        )
    except ExpertloopError as exc:
        if exc.status < 500:
            raise
        return ProviderTest(name, False, None, None, None, None, exc.message, exc.code)
    return ProviderTest(
        name, True, completion.text, completion.model, completion.finish_reason,
        completion.latency_ms, None, None,
    )


test_provider.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
