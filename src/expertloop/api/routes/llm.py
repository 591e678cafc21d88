"""Model providers (admins): configure OpenAI-compatible endpoints and try them out. The
API key is write-only: responses say only where it comes from. See ``docs/llm.md``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, Field

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.openapi import error_responses
from expertloop.api.schemas import Strict
from expertloop.services import llm
from expertloop.services.llm import Provider, ProviderTest

router = APIRouter(prefix="/llm", tags=["llm"])

ProviderName = Annotated[str, Path(min_length=1, max_length=64)]


class ProviderIn(Strict):
    name: str = Field(min_length=1, max_length=64, examples=["judge-small"])
    base_url: str = Field(max_length=500, examples=["https://api.openai.com/v1"])
    model: str = Field(min_length=1, max_length=200, examples=["gpt-4o-mini"])
    params: dict[str, Any] = Field(default_factory=dict, examples=[{"temperature": 0}])
    timeout_seconds: float = Field(60.0, gt=0, le=3600)
    max_retries: int = Field(3, ge=0, le=10)
    concurrency: int = Field(4, ge=1, le=256)
    api_key: str | None = Field(
        None, max_length=1000, description="Stored encrypted; never returned."
    )
    api_key_env: str | None = Field(
        None, max_length=200, description="Name of an environment variable holding the key."
    )


class ProviderPatch(Strict):
    base_url: str | None = Field(None, max_length=500)
    model: str | None = Field(None, min_length=1, max_length=200)
    params: dict[str, Any] | None = None
    timeout_seconds: float | None = Field(None, gt=0, le=3600)
    max_retries: int | None = Field(None, ge=0, le=10)
    concurrency: int | None = Field(None, ge=1, le=256)
    api_key: str | None = Field(None, max_length=1000)
    api_key_env: str | None = Field(None, max_length=200)

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class ProviderPublic(BaseModel):
    id: int
    name: str
    base_url: str
    model: str
    params: dict[str, Any]
    timeout_seconds: float
    max_retries: int
    concurrency: int
    api_key_env: str | None
    key_source: str = Field(description="`env`, `stored` or `none`; the key itself is never sent.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, provider: Provider) -> ProviderPublic:
        return cls(
            id=provider.id, name=provider.name, base_url=provider.base_url,
            model=provider.model, params=provider.params,
            timeout_seconds=provider.timeout_seconds, max_retries=provider.max_retries,
            concurrency=provider.concurrency, api_key_env=provider.api_key_env,
            key_source=provider.key_source, created_at=provider.created_at,
            updated_at=provider.updated_at,
        )


class ProviderTestPublic(BaseModel):
    provider: str
    ok: bool
    text: str | None
    model: str | None
    finish_reason: str | None
    latency_ms: float | None
    error: str | None
    error_code: str | None

    @classmethod
    def of(cls, result: ProviderTest) -> ProviderTestPublic:
        return cls(
            provider=result.provider, ok=result.ok, text=result.text, model=result.model,
            finish_reason=result.finish_reason, latency_ms=result.latency_ms,
            error=result.error, error_code=result.error_code,
        )


@router.post(
    "/providers",
    status_code=status.HTTP_201_CREATED,
    summary="Configure a model provider (admins)",
    responses=error_responses(409, 422),
)
def add_provider(body: ProviderIn, db: DatabaseDep, actor: CurrentUser) -> ProviderPublic:
    return ProviderPublic.of(llm.add_provider(db, actor=actor, **body.model_dump()))


@router.get("/providers", summary="The model providers (admins)")
def list_providers(db: DatabaseDep, actor: CurrentUser) -> list[ProviderPublic]:
    return [ProviderPublic.of(p) for p in llm.list_providers(db, actor=actor)]


@router.get(
    "/providers/{name}", summary="A model provider (admins)", responses=error_responses(404)
)
def get_provider(name: ProviderName, db: DatabaseDep, actor: CurrentUser) -> ProviderPublic:
    return ProviderPublic.of(llm.get_provider(db, actor=actor, name=name))


@router.patch(
    "/providers/{name}",
    summary="Change a model provider (admins)",
    responses=error_responses(404, 422),
)
def patch_provider(
    name: ProviderName, body: ProviderPatch, db: DatabaseDep, actor: CurrentUser
) -> ProviderPublic:
    return ProviderPublic.of(llm.update_provider(db, actor=actor, name=name, **body.changes()))


@router.delete(
    "/providers/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a model provider (admins); its recorded calls stay",
    responses=error_responses(404),
)
def delete_provider(name: ProviderName, db: DatabaseDep, actor: CurrentUser) -> Response:
    llm.delete_provider(db, actor=actor, name=name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/providers/{name}/test",
    summary="Send the provider one tiny prompt and report the outcome (admins)",
    responses=error_responses(404),
)
def test_provider(name: ProviderName, db: DatabaseDep, actor: CurrentUser) -> ProviderTestPublic:
    return ProviderTestPublic.of(llm.test_provider(db, actor=actor, name=name))
