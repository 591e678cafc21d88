from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request

from expertloop.api.deps import CurrentUser, DatabaseDep, RuntimeDep, client_address
from expertloop.api.openapi import error_responses
from expertloop.api.schemas import TokenRequest, TokenResponse, UserPublic
from expertloop.services import auth

router = APIRouter(tags=["auth"])


@router.post(
    "/auth/token",
    summary="Exchange a username and password for an API token",
    responses=error_responses(401, 429),
)
def create_token(
    body: TokenRequest, request: Request, db: DatabaseDep, runtime: RuntimeDep
) -> TokenResponse:
    token = auth.issue_token(
        db,
        username=body.username,
        password=body.password,
        name="api",
        lifetime=timedelta(days=runtime.settings.token_lifetime_days),
        address=client_address(request),
        limits=runtime.signin_limits,
    )
    return TokenResponse(token=token)


@router.get("/me", summary="The calling user")
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.of(user)
