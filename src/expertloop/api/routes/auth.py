from __future__ import annotations

from fastapi import APIRouter

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.schemas import TokenRequest, TokenResponse, UserPublic
from expertloop.services import auth

router = APIRouter(tags=["auth"])


@router.post("/auth/token", summary="Exchange a username and password for an API token")
def create_token(body: TokenRequest, db: DatabaseDep) -> TokenResponse:
    token = auth.issue_token(db, username=body.username, password=body.password, name="api")
    return TokenResponse(token=token)


@router.get("/me", summary="The calling user")
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.of(user)
