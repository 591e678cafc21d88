"""Creating a project together with the settings it was asked for, and changing a
project's settings with its adaptive redundancy, all or nothing.

A project is created with its workforce settings, adaptive redundancy and worker rules in
one request (API ``POST /projects``, the console's new-project form). Each setting has its
own use case; here every one is checked before anything is written, then all of them run in
one transaction (:meth:`~expertloop.store.Database.transaction`), so a failure or a crash
half-way never leaves a project without the settings its creator asked for. The console's
settings form saves the project's fields and its adaptive redundancy the same way
(:func:`update_configured_project`): never a half-saved form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from expertloop.domain import Project, User
from expertloop.services import projects, redundancy, worker_rules
from expertloop.services.workforce import settings as workforce_settings
from expertloop.store import Database

if TYPE_CHECKING:
    from expertloop.services.caching import ExpiringCache

__all__ = ["create_configured_project", "update_configured_project"]


def create_configured_project(
    db: Database,
    *,
    actor: User,
    fields: Mapping[str, Any],
    workforce: Mapping[str, Any] | None = None,
    adaptive_redundancy: Mapping[str, Any] | None = None,
    rules: Any = None,
) -> Project:
    """The project made from ``fields`` (``projects.create_project``'s arguments), with
    the workforce settings, adaptive redundancy and worker rules given (``None``: the
    defaults). Raises the first setting's validation error before anything is stored."""
    if workforce:
        workforce_settings.check_new_settings(db, actor=actor, **workforce)
    if adaptive_redundancy is not None:
        redundancy.check_new_redundancy(
            task_type=fields["task_type"], config=fields.get("config") or {},
            **adaptive_redundancy,
        )
    if rules is not None:
        worker_rules.validate_rules(rules)
    with db.transaction():
        project = projects.create_project(db, actor=actor, **fields)
        if adaptive_redundancy is not None:
            redundancy.set_redundancy(
                db, actor=actor, project_id=project.id, **adaptive_redundancy
            )
        if workforce:
            workforce_settings.update_settings(
                db, actor=actor, project_id=project.id, **workforce
            )
        if rules is not None:
            worker_rules.set_rules(db, actor=actor, project_id=project.id, rules=rules)
    return project


def update_configured_project(
    db: Database,
    *,
    actor: User,
    project_id: int,
    changes: Mapping[str, Any],
    adaptive_redundancy: Mapping[str, Any] | None = None,
    redundancy_off: bool = False,
    claimable: ExpiringCache[tuple[int, int], Project] | None = None,
) -> Project:
    """Change the project's settings (``projects.update_project``'s ``changes``) and, in
    the same transaction, set its adaptive redundancy to ``adaptive_redundancy``
    (``redundancy.set_redundancy``'s settings) or, with ``redundancy_off``, turn it off;
    neither: leave it as it is. Each part audits and queues its re-target job as on its
    own, and settings the project has already change nothing (no event, no job). A refusal
    of either part (a 422, say adaptive redundancy on a project whose answers pick no
    class) or a database error stores nothing; the project as changed."""
    if adaptive_redundancy is not None:
        redundancy.check_redundancy(**adaptive_redundancy)
    with db.transaction():
        project = projects.update_project(
            db, actor=actor, project_id=project_id, changes=changes
        )
        if adaptive_redundancy is not None:
            redundancy.set_redundancy(
                db, actor=actor, project_id=project_id, **adaptive_redundancy
            )
        elif redundancy_off:
            redundancy.remove_redundancy(db, actor=actor, project_id=project_id)
    projects.forget_claimable(claimable, project_id)  # committed: the loop reads it again
    return project
