"""Who may use the manager's console: the signed-in manager or admin (:func:`console_user`),
and the projects they manage (:func:`manageable`); a refused page is :class:`Refused`."""

from __future__ import annotations

from fastapi import Request, Response

from expertloop.domain import Project, Role, User, can_create_projects
from expertloop.errors import NotFound, PermissionDenied
from expertloop.services import projects
from expertloop.store import Database
from expertloop.web.pages import error_page, redirect_to_login
from expertloop.web.sessions import session_user

__all__ = ["DIRECTORY_PAGE", "Refused", "console_user", "manageable"]

# Users listed on a page of the directory, and searched when a member is added by name.
DIRECTORY_PAGE = 50


class Refused(Exception):
    """A console page refused: ``response`` is what to send instead (sign in, or 403)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def console_user(request: Request) -> User:
    """The signed-in manager or admin; anyone else is sent to sign in or refused (403)."""
    user = session_user(request)
    if user is None:
        raise Refused(redirect_to_login(request))
    if not can_create_projects(user):
        raise Refused(
            error_page(
                request,
                user,
                PermissionDenied("The console is for project managers and admins."),
            )
        )
    return user


def manageable(db: Database, user: User, project_id: int) -> Project:
    """The project if the user manages it (its managers, admins); NotFound otherwise, so a
    manager learns nothing of other managers' projects."""
    project = projects.get_project(db, actor=user, project_id=project_id)
    if user.role is not Role.ADMIN and not project.is_member:
        raise NotFound(f"project {project_id} not found")
    return project
