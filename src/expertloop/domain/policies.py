"""Authorisation as small pure functions: who may do what to which project.

``is_member`` is whether the user belongs to the project (creators are members).
"""

from __future__ import annotations

from expertloop.domain.models import Role, User

__all__ = [
    "can_add_members",
    "can_claim_items",
    "can_create_projects",
    "can_edit_project",
    "can_import_items",
    "can_manage_users",
    "can_read_answers",
    "can_read_gold",
    "can_read_project",
    "can_request_reviews",
    "can_review_answers",
    "can_search_users",
]


def can_manage_users(user: User) -> bool:
    return user.role is Role.ADMIN


def can_search_users(user: User) -> bool:
    """Managers look workers up to staff their projects; admins manage every account."""
    return user.role in (Role.ADMIN, Role.MANAGER)


def can_create_projects(user: User) -> bool:
    return user.role in (Role.ADMIN, Role.MANAGER)


def can_read_project(user: User, *, is_member: bool) -> bool:
    return user.role is Role.ADMIN or is_member


def _manages(user: User, *, is_member: bool) -> bool:
    return user.role is Role.ADMIN or (user.role is Role.MANAGER and is_member)


def can_edit_project(user: User, *, is_member: bool) -> bool:
    """Settings, guidelines and archiving: the project's managers and admins."""
    return _manages(user, is_member=is_member)


def can_add_members(user: User, *, is_member: bool) -> bool:
    return _manages(user, is_member=is_member)


def can_import_items(user: User, *, is_member: bool) -> bool:
    return _manages(user, is_member=is_member)


def can_read_gold(user: User, *, is_member: bool) -> bool:
    return _manages(user, is_member=is_member)


def can_read_answers(user: User, *, is_member: bool) -> bool:
    """Managers and reviewers of the project read every answer; workers read none of others'."""
    if user.role is Role.REVIEWER:
        return is_member
    return _manages(user, is_member=is_member)


def can_claim_items(user: User, *, is_member: bool) -> bool:
    """Any active member may work on a project's items (managers try their own tasks)."""
    return user.is_active and is_member


def can_review_answers(user: User, *, is_member: bool) -> bool:
    """Reviewers of the project work its review queue; its managers (and admins) may too."""
    if user.role is Role.REVIEWER:
        return user.is_active and is_member
    return _manages(user, is_member=is_member)


def can_request_reviews(user: User, *, is_member: bool) -> bool:
    """Managers choose which answers are reviewed, and see how each worker's came out."""
    return _manages(user, is_member=is_member)
