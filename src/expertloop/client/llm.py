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

    # --- judges and generation on a project (its managers) --------------------------------

    def judge(self, project_id: int, provider: str, **options: Any) -> dict[str, Any]:
        """Start an ``llm.judge`` job over the project's items; the job (follow it with
        ``client.jobs``). Options: ``judge``, ``instructions``, ``params``, ``seed``,
        ``item_ids``, ``redo``."""
        body: dict[str, Any] = self._http.json(
            "POST", f"projects/{project_id}/judge-runs",
            json_body={"provider": provider, **options}, retry=Retry.UNSENT,
        )
        return body

    def generate(
        self, project_id: int, prompts: builtins.list[dict[str, Any]],
        providers: builtins.list[str], **options: Any,
    ) -> dict[str, Any]:
        """Start an ``llm.generate`` job; the job. Options: ``n``, ``params``, ``seed``,
        ``pairing``, ``pairs``."""
        body: dict[str, Any] = self._http.json(
            "POST", f"projects/{project_id}/generations",
            json_body={"prompts": prompts, "providers": providers, **options},
            retry=Retry.UNSENT,
        )
        return body

    def verdicts(
        self, project_id: int, *, judge: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Every verdict of the project's judges (paged through), by item."""
        out: builtins.list[dict[str, Any]] = []
        after = 0
        while True:
            params: dict[str, Any] = {"after_item_id": after, "limit": 1000}
            if judge is not None:
                params["judge"] = judge
            page = self._http.json("GET", f"projects/{project_id}/verdicts", params=params)
            if not page:
                return out
            last = page[-1]["item_id"]
            if len(page) == 1000:  # the page may end part-way through an item's judges
                whole = [v for v in page if v["item_id"] != last]
                page, last = (whole, whole[-1]["item_id"]) if whole else (page, last)
            out.extend(page)
            after = last

    def settings(self, project_id: int) -> dict[str, Any]:
        """The project's model settings: ``show_verdicts`` and the ``triage`` rule."""
        body: dict[str, Any] = self._http.json("GET", f"projects/{project_id}/llm-settings")
        return body

    def set_triage(
        self, project_id: int, judges: builtins.list[str] | None, *,
        audit_share: float | None = None,
    ) -> dict[str, Any]:
        """Turn triage on with these judges (names of judge runs, or providers), or off with
        ``None``, and with ``audit_share`` set adaptive redundancy's audit share in the same
        change (its other settings kept); the project's model settings. Needs adaptive
        redundancy on; an unknown judge, or one of another task type, or a share outside
        0-1 is refused (422) and nothing changes."""
        request: dict[str, Any] = {
            "triage": None if judges is None else {"judges": list(judges)}
        }
        if audit_share is not None:
            request["audit_share"] = audit_share
        body: dict[str, Any] = self._http.json(
            "PATCH", f"projects/{project_id}/llm-settings", json_body=request,
            retry=Retry.UNSENT,
        )
        return body

    def triage(self, project_id: int) -> dict[str, Any]:
        """Triage as applied: ``applied``, ``judges``, ``policy``, and per judge what the
        last model fit measured (``accuracy``, ``agreement`` with the expert majority,
        ``compared``, ``fitted_verdicts``, ``verdicts``)."""
        body: dict[str, Any] = self._http.json("GET", f"projects/{project_id}/triage")
        return body

    def calibration(self, project_id: int, *, min_answers: int = 2) -> dict[str, Any]:
        """Judge-expert agreement per judge, model and key, with intervals."""
        body: dict[str, Any] = self._http.json(
            "GET", f"projects/{project_id}/calibration", params={"min_answers": min_answers}
        )
        return body
