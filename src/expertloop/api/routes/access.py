"""Cutting access off: tokens listed and revoked, passwords changed, accounts suspended and
reactivated, members removed from projects."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from expertloop.api.access_schemas import PasswordChange, TokenPublic
from expertloop.api.deps import CurrentUser, DatabaseDep, RuntimeDep, bearer_token
from expertloop.api.openapi import error_responses
from expertloop.api.schemas import Id, SmallId, UserPublic
from expertloop.errors import InputInvalid
from expertloop.services import access, auth

router = APIRouter()

_NO_CONTENT = status.HTTP_204_NO_CONTENT


@router.get("/auth/tokens", tags=["auth"], summary="The caller's live tokens and sessions")
def list_tokens(db: DatabaseDep, actor: CurrentUser) -> list[TokenPublic]:
    return [TokenPublic.of(t) for t in access.list_tokens(db, actor=actor)]


@router.delete(
    "/auth/tokens/{token_id}",
    tags=["auth"],
    status_code=_NO_CONTENT,
    summary="Revoke one of the caller's tokens",
)
def revoke_token(
    token_id: Id, db: DatabaseDep, runtime: RuntimeDep, actor: CurrentUser
) -> Response:
    access.revoke_token_by_id(db, actor=actor, token_id=token_id, caches=runtime.access_caches)
    return Response(status_code=_NO_CONTENT)


@router.delete(
    "/auth/token",
    tags=["auth"],
    status_code=_NO_CONTENT,
    summary="Revoke the token that authenticates this request (sign out a program)",
    responses=error_responses(422),
)
def revoke_this_token(
    request: Request, db: DatabaseDep, runtime: RuntimeDep, _actor: CurrentUser
) -> Response:
    token = bearer_token(request)
    if token is None:
        raise InputInvalid.on_field(
            "Authorization", "send the token to revoke as 'Authorization: Bearer <token>'"
        )
    auth.revoke_token(db, token)
    runtime.authenticator.forget(token)
    return Response(status_code=_NO_CONTENT)


@router.post(
    "/me/password",
    tags=["auth"],
    status_code=_NO_CONTENT,
    summary="Change the caller's password; revokes their other tokens and sessions",
)
def change_password(
    body: PasswordChange,
    request: Request,
    db: DatabaseDep,
    runtime: RuntimeDep,
    actor: CurrentUser,
) -> Response:
    access.change_password(
        db,
        actor=actor,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_token=bearer_token(request),
        caches=runtime.access_caches,
    )
    return Response(status_code=_NO_CONTENT)


@router.post(
    "/users/{user_id}/suspend",
    tags=["users"],
    summary="Suspend an account (admin): it can no longer sign in or work; its leases end",
)
def suspend_user(
    user_id: SmallId, db: DatabaseDep, runtime: RuntimeDep, actor: CurrentUser
) -> UserPublic:
    user = access.suspend_user(db, actor=actor, user_id=user_id, caches=runtime.access_caches)
    return UserPublic.of(user)


@router.post(
    "/users/{user_id}/reactivate", tags=["users"], summary="Reactivate a suspended account (admin)"
)
def reactivate_user(
    user_id: SmallId, db: DatabaseDep, runtime: RuntimeDep, actor: CurrentUser
) -> UserPublic:
    user = access.reactivate_user(db, actor=actor, user_id=user_id, caches=runtime.access_caches)
    return UserPublic.of(user)


@router.delete(
    "/projects/{project_id}/members/{user_id}",
    tags=["projects"],
    status_code=_NO_CONTENT,
    summary="Remove a member from a project (manager); their leases in it end",
)
def remove_member(
    project_id: SmallId, user_id: SmallId, db: DatabaseDep, runtime: RuntimeDep, actor: CurrentUser
) -> Response:
    access.remove_member(
        db, actor=actor, project_id=project_id, user_id=user_id, caches=runtime.access_caches
    )
    return Response(status_code=_NO_CONTENT)
