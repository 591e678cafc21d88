"""Model providers (``client.llm``, admins): configure OpenAI-compatible endpoints and try
them. API keys are write-only: a provider shows only where its key comes from."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from expertloop.client._http import Http, Retry

__all__ = ["LlmProviders", "ProviderInfo", "ProviderTestResult"]


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """A configured provider; ``key_source`` is ``env``, ``stored`` or ``none``."""

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
    def from_json(cls, body: dict[str, Any]) -> ProviderInfo:
        return cls(
            body["id"], body["name"], body["base_url"], body["model"], body["params"],
            body["timeout_seconds"], body["max_retries"], body["concurrency"],
            body["api_key_env"], body["key_source"], _time(body["created_at"]),
            _time(body["updated_at"]),
        )


@dataclass(frozen=True, slots=True)
class ProviderTestResult:
    """Whether the provider answered a tiny prompt: its text, or its error."""

    provider: str
    ok: bool
    text: str | None
    model: str | None
    finish_reason: str | None
    latency_ms: float | None
    error: str | None
    error_code: str | None


class LlmProviders:
    """``client.llm``.

    Example::

        client.llm.add("judge", "http://127.0.0.1:8080/v1", "qwen2.5-7b",
                       params={"temperature": 0}, api_key_env="JUDGE_KEY")
        print(client.llm.test("judge").ok)
    """

    def __init__(self, http: Http) -> None:
        self._http = http

    def add(
        self,
        name: str,
        base_url: str,
        model: str,
        *,
        params: dict[str, Any] | None = None,
        timeout_seconds: float = 60.0,
        max_retries: int = 3,
        concurrency: int = 4,
        api_key: str | None = None,
        api_key_env: str | None = None,
    ) -> ProviderInfo:
        body = {
            "name": name, "base_url": base_url, "model": model, "params": params or {},
            "timeout_seconds": timeout_seconds, "max_retries": max_retries,
            "concurrency": concurrency, "api_key": api_key, "api_key_env": api_key_env,
        }
        return ProviderInfo.from_json(
            self._http.json("POST", "llm/providers", json_body=body, retry=Retry.UNSENT)
        )

    def list(self) -> builtins.list[ProviderInfo]:
        return [ProviderInfo.from_json(b) for b in self._http.json("GET", "llm/providers")]

    def get(self, name: str) -> ProviderInfo:
        return ProviderInfo.from_json(self._http.json("GET", f"llm/providers/{name}"))

    def update(self, name: str, **changes: Any) -> ProviderInfo:
        """Change some settings (``base_url``, ``model``, ``params``, ``timeout_seconds``,
        ``max_retries``, ``concurrency``, ``api_key``, ``api_key_env``)."""
        return ProviderInfo.from_json(
            self._http.json("PATCH", f"llm/providers/{name}", json_body=changes)
        )

    def remove(self, name: str) -> None:
        self._http.json("DELETE", f"llm/providers/{name}")

    def test(self, name: str) -> ProviderTestResult:
        body = self._http.json("POST", f"llm/providers/{name}/test", retry=Retry.UNSENT)
        return ProviderTestResult(**body)
