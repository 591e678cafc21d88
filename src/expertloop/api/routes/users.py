from __future__ import annotations

from fastapi import APIRouter, status

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.openapi import error_responses
from expertloop.api.schemas import UserCreate, UserPublic
from expertloop.services import users

router = APIRouter(tags=["users"])


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    summary="Create a user (admin)",
    responses=error_responses(409),
)
def create_user(body: UserCreate, db: DatabaseDep, actor: CurrentUser) -> UserPublic:
    user = users.create_user(
        db, actor=actor, username=body.username, password=body.password, role=body.role
    )
    return UserPublic.of(user)


@router.get("/users", summary="List users (admin)")
def list_users(db: DatabaseDep, actor: CurrentUser) -> list[UserPublic]:
    return [UserPublic.of(u) for u in users.list_users(db, actor=actor)]
