from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.openapi import error_responses
from expertloop.api.schemas import UserCreate, UserDirectoryEntry, UserPublic
from expertloop.services import users

router = APIRouter(tags=["users"])

# PostgreSQL text cannot hold NUL: refused as input rather than failing in the database.
_NO_NUL = r"^[^\x00]*$"


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


@router.get(
    "/users",
    summary="Search users by the start of their username (managers, admins), a page at a time",
    response_description="In username order. When the page is full, the header "
    "``X-Next-After`` holds the value of ``after`` for the next page.",
)
def list_users(
    db: DatabaseDep,
    actor: CurrentUser,
    response: Response,
    q: Annotated[str, Query(max_length=150, pattern=_NO_NUL, description="Username prefix")] = "",
    after: Annotated[
        str | None,
        Query(max_length=150, pattern=_NO_NUL, description="The last username of the page before"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=users.MAX_PAGE)] = 100,
) -> list[UserDirectoryEntry]:
    page = users.search_users(db, actor=actor, q=q, after=after, limit=limit)
    if page.next_after is not None:
        response.headers["X-Next-After"] = page.next_after
    return [
        UserDirectoryEntry(
            **UserPublic.of(u).model_dump(), projects=[pid for pid, _ in page.projects[u.id]]
        )
        for u in page.users
    ]
