"""The manager's console, its project pages: the project list (``/manage``), creating a
project with a live preview, settings with the guidelines' versions and archiving. Its
members are in ``web/console_members.py``, the user directory (``/manage/people``) in
``web/console_people.py``, who may use the console in ``web/console_access.py``.

Handlers load, authorise (through the services, which apply ``domain/policies.py``) and
render; forms post back to the same page with the session's CSRF token, and errors are
shown next to their fields with the API's messages. The preview is ``POST
/ui/manage/preview`` (JSON, called by ``static/console.js``): the task type's own template
filled with its example item and the config being typed.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import FormData

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.schemas import ProjectCreate, ProjectUpdate, SmallId
from expertloop.domain import Project, Role, User, can_create_projects
from expertloop.domain.models import GuidelinesVersion
from expertloop.errors import ExpertloopError, InputInvalid, PermissionDenied
from expertloop.services import counters, project_setup, projects, redundancy
from expertloop.services.runtime import Runtime
from expertloop.store import Database
from expertloop.tasks import TASK_TYPES, TaskType, TaskValidationError, get_task_type
from expertloop.web.console_access import DIRECTORY_PAGE, Refused, console_user, manageable
from expertloop.web.console_forms import (
    SETTINGS_FIELDS,
    config_controls,
    config_from_form,
    errors_by_field,
    settings_from_form,
    validate_schema,
)
from expertloop.web.pages import (
    check_form_csrf,
    error_page,
    page_context,
    redirect,
)
from expertloop.web.rendering import render_page, render_string, task_template_name
from expertloop.web.sessions import session_user

__all__ = ["DIRECTORY_PAGE", "Refused", "console_user", "install_console_projects", "router"]

router = APIRouter(include_in_schema=False)


def install_console_projects(app: FastAPI, runtime: Runtime) -> None:  # noqa: ARG001
    """The console's project pages."""
    app.include_router(router)


def _task_types() -> list[dict[str, str]]:
    return [
        {"name": name, "label": name.replace("_", " "), "example": task.example.name}
        for name, task in sorted(TASK_TYPES.items())
    ]


# --- the project list ---------------------------------------------------------------------


@router.get("/manage")
def console_home(request: Request, db: DatabaseDep) -> Response:
    try:
        user = console_user(request)
    except Refused as refused:
        return refused.response
    active: list[dict[str, Any]] = []
    archived: list[dict[str, Any]] = []
    managed = [
        project
        for project in projects.list_projects(db, actor=user)
        if user.role is Role.ADMIN or project.is_member
    ]
    # Counted off the hot path (project_counters); a large project behind is shown as last
    # counted while a job recounts it.
    counted = counters.project_counts(db, [p.id for p in managed])
    for project in managed:
        found = counted[project.id]
        progress = found.counts
        row = {
            "project": project,
            "progress": progress,
            "counted_at": found.counted_at,
            "behind": found.behind,
            "percent": round(100 * progress.items_complete / progress.items)
            if progress.items
            else 0,
        }
        (archived if project.is_archived else active).append(row)
    return render_page(
        request,
        "console/projects.html",
        {
            **page_context(request, user),
            "tab": "projects",
            "active": active,
            "archived": archived,
        },
    )


# --- creating a project -------------------------------------------------------------------


def _new_project_page(
    request: Request,
    user: User,
    task: TaskType,
    *,
    values: Mapping[str, Any],
    config: Mapping[str, Any],
    errors: Mapping[str, str],
    status_code: int = 200,
) -> Response:
    return render_page(
        request,
        "console/new_project.html",
        {
            **page_context(request, user),
            "tab": "projects",
            "task_types": _task_types(),
            "task_type": task.name,
            "fields": SETTINGS_FIELDS,
            "values": values,
            "controls": config_controls(task, config),
            "errors": errors,
            "preview": _safe_preview(task, config),
        },
        status_code=status_code,
    )


def _chosen_task(name: str | None) -> TaskType:
    if name and name in TASK_TYPES:
        return get_task_type(name)
    return get_task_type(sorted(TASK_TYPES)[0])


@router.get("/manage/projects/new")
def new_project_form(request: Request, task_type: str | None = None) -> Response:
    try:
        user = console_user(request)
    except Refused as refused:
        return refused.response
    task = _chosen_task(task_type)
    example = task.example
    values = {
        "name": "",
        "guidelines": example.guidelines,
        "answers_per_item": 3,
        "lease_seconds": 600,
    }
    return _new_project_page(request, user, task, values=values, config=example.config, errors={})


@router.post("/manage/projects/new")
async def create_project(request: Request, db: DatabaseDep) -> Response:
    try:
        user = console_user(request)
    except Refused as refused:
        return refused.response
    form = await request.form()
    try:
        check_form_csrf(request, form)
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    task = _chosen_task(str(form.get("task_type") or ""))
    errors: dict[str, str] = {}
    values = settings_from_form(form, errors)
    adaptive = _redundancy_values(values)
    config = config_from_form(task, form, errors)
    body = {**values, "task_type": task.name, "config": config}
    if not errors:
        errors.update(validate_schema(ProjectCreate, body))
        errors.update(_config_errors(task, config))
    if not errors and adaptive:
        try:
            redundancy.check_new_redundancy(task_type=task.name, config=config, **adaptive)
        except InputInvalid as exc:
            errors.update(_form_errors(exc))
    if not errors:
        try:
            project = project_setup.create_configured_project(
                db, actor=user, fields=body, adaptive_redundancy=adaptive or None
            )
        except InputInvalid as exc:
            errors.update(_form_errors(exc))
        else:
            return redirect(f"/manage/projects/{project.id}/settings?created=1")
    return _new_project_page(
        request,
        user,
        task,
        values=_form_values(form),
        config=config,
        errors=errors,
        status_code=422,
    )


def _redundancy_values(values: dict[str, Any]) -> dict[str, Any]:
    """The adaptive redundancy settings taken out of the form's values (they are not
    fields of the project): empty when none was given, which means a fixed answers per
    item; a field left empty takes its default."""
    return {
        f.name: values.pop(f.name) for f in SETTINGS_FIELDS
        if f.group == "redundancy" and f.name in values
    }


def _form_errors(exc: InputInvalid) -> dict[str, str]:
    """The service's messages by field, one about no field of the form (``redundancy``:
    adaptive redundancy as a whole) shown at the top of the form."""
    found = errors_by_field(exc)
    fields = {f.name for f in SETTINGS_FIELDS}
    for key in [k for k in found if k not in fields and not k.startswith("config")]:
        message = found.pop(key)
        found.setdefault("form", message)
    return found


def _shows_redundancy(form: Any) -> bool:
    return any(f.name in form for f in SETTINGS_FIELDS if f.group == "redundancy")


def _project_values(project: Project) -> dict[str, Any]:
    return {f.name: getattr(project, f.name, "") for f in SETTINGS_FIELDS}


def _config_errors(task: TaskType, config: dict[str, Any]) -> dict[str, str]:
    """The task type's complaints about a config, by field (``config.labels``...)."""
    try:
        task.validate_config(config)
    except TaskValidationError as exc:
        return {e.field: e.message for e in exc.prefixed("config").errors}
    return {}


def _form_values(form: FormData) -> dict[str, Any]:
    return {f.name: form.get(f.name, "") for f in SETTINGS_FIELDS}


# --- the live preview ---------------------------------------------------------------------


def _preview_html(task: TaskType, config: dict[str, Any]) -> str:
    """The example's first item in the task type's form, as a worker sees it (without the
    submit and skip buttons: a preview answers nothing)."""
    normalised = task.validate_config(config)
    payload = task.example.items[0]["payload"]
    return render_string(
        task_template_name(task.name),
        {
            "project": None,
            "config": normalised,
            "payload": task.present(payload, None),
            "assignment_id": None,
            "item_id": 0,
        },
    )


def _safe_preview(task: TaskType, config: Mapping[str, Any]) -> str:
    """The preview of a config being fixed: empty while it is not valid."""
    try:
        return _preview_html(task, dict(config))
    except TaskValidationError:
        return ""


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_type: str = Field(max_length=50)
    fields: dict[str, str] = Field(
        default_factory=dict, description="The form's config.* fields as typed"
    )


@router.post("/ui/manage/preview")
def preview_item(body: PreviewRequest, actor: CurrentUser) -> Response:
    """``{html}``: the example item in the task type's form with the config the fields
    describe; 422 with ``details`` by field when the config is not valid."""
    if not can_create_projects(actor):
        raise PermissionDenied("only managers and admins preview projects")
    if body.task_type not in TASK_TYPES:
        raise InputInvalid.on_field("task_type", f"unknown task type {body.task_type!r}")
    task = get_task_type(body.task_type)
    errors: dict[str, str] = {}
    config = config_from_form(task, body.fields, errors)
    if errors:
        raise InputInvalid(
            next(iter(errors.values())),
            details=[{"field": k, "message": v} for k, v in errors.items()],
        )
    try:
        html = _preview_html(task, config)
    except TaskValidationError as exc:
        problems = exc.prefixed("config").errors
        raise InputInvalid(
            str(exc.prefixed("config")), details=[e.to_dict() for e in problems]
        ) from None
    return Response(
        orjson.dumps({"html": html}),
        media_type="application/json",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
    )


# --- settings -----------------------------------------------------------------------------


def _diff(older: str, newer: str) -> list[tuple[str, str]]:
    """Line diff of two versions as (kind, text): kind ``add``, ``del``, ``hunk`` or ``same``."""
    lines = []
    for line in difflib.unified_diff(older.splitlines(), newer.splitlines(), lineterm="", n=2):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            lines.append(("hunk", line))
        elif line.startswith("+"):
            lines.append(("add", line[1:]))
        elif line.startswith("-"):
            lines.append(("del", line[1:]))
        else:
            lines.append(("same", line[1:]))
    return lines


def _history(versions: list[GuidelinesVersion]) -> list[dict[str, Any]]:
    rows = []
    for i, version in enumerate(versions):  # newest first
        previous = versions[i + 1] if i + 1 < len(versions) else None
        rows.append(
            {
                "version": version,
                "diff": _diff(previous.text if previous else "", version.text),
                "first": previous is None,
            }
        )
    return rows


def _settings_page(
    request: Request,
    db: Database,
    user: User,
    project: Project,
    *,
    values: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    task = get_task_type(project.task_type)
    versions = projects.guidelines_versions(db, actor=user, project_id=project.id)
    adaptive = redundancy.get_redundancy(db, actor=user, project_id=project.id)
    stored = {**_project_values(project), **({} if adaptive is None else adaptive.as_dict())}
    shown = values or {f.name: stored.get(f.name, "") for f in SETTINGS_FIELDS}
    return render_page(
        request,
        "console/settings.html",
        {
            **page_context(request, user),
            "tab": "settings",
            "project": project,
            "fields": SETTINGS_FIELDS,
            "values": shown,
            "controls": config_controls(task, project.config if config is None else config),
            "errors": errors or {},
            "history": _history(versions),
            "notice": notice,
        },
        status_code=status_code,
    )


_NOTICES = {
    "created": "Project created. Next, import its items, then add its members.",
    "saved": "Settings saved.",
    "archived": "Project archived: it hands out no more items.",
    "unarchived": "Project unarchived: workers get its items again.",
}


@router.get("/manage/projects/{project_id}/settings")
def settings_form(project_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    try:
        user = console_user(request)
        project = manageable(db, user, project_id)
    except Refused as refused:
        return refused.response
    except ExpertloopError as exc:
        return error_page(request, session_user(request), exc)
    notice = next((text for key, text in _NOTICES.items() if key in request.query_params), "")
    return _settings_page(request, db, user, project, notice=notice)


@router.post("/manage/projects/{project_id}/settings")
async def save_settings(project_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    try:
        user = console_user(request)
        project = manageable(db, user, project_id)
        form = await request.form()
        check_form_csrf(request, form)
    except Refused as refused:
        return refused.response
    except ExpertloopError as exc:
        return error_page(request, session_user(request), exc)
    task = get_task_type(project.task_type)
    errors: dict[str, str] = {}
    changes = settings_from_form(form, errors)
    adaptive = _redundancy_values(changes)
    config = config_from_form(task, form, errors)
    changes["config"] = config
    if not errors:
        errors.update(validate_schema(ProjectUpdate, changes))
        errors.update(_config_errors(task, config))
    if not errors:
        try:
            # One transaction: the fields and adaptive redundancy are both saved, or neither.
            project_setup.update_configured_project(
                db,
                actor=user,
                project_id=project_id,
                changes=changes,
                adaptive_redundancy=adaptive or None,
                # the adaptive fields were left empty: off
                redundancy_off=not adaptive and _shows_redundancy(form),
                claimable=request.app.state.claimable_projects,
            )
        except InputInvalid as exc:
            errors.update(_form_errors(exc))
        else:
            return redirect(f"/manage/projects/{project_id}/settings?saved=1")
    return _settings_page(
        request,
        db,
        user,
        project,
        values=_form_values(form),
        config=config,
        errors=errors,
        status_code=422,
    )


async def _archiving(request: Request, db: Database, project_id: int, archive: bool) -> Response:
    try:
        user = console_user(request)
        manageable(db, user, project_id)
        check_form_csrf(request, await request.form())
        change = projects.archive_project if archive else projects.unarchive_project
        change(
            db,
            actor=user,
            project_id=project_id,
            claimable=request.app.state.claimable_projects,
        )
    except Refused as refused:
        return refused.response
    except ExpertloopError as exc:
        return error_page(request, session_user(request), exc)
    done = "archived" if archive else "unarchived"
    return redirect(f"/manage/projects/{project_id}/settings?{done}=1")


@router.post("/manage/projects/{project_id}/archive")
async def archive(project_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    return await _archiving(request, db, project_id, True)


@router.post("/manage/projects/{project_id}/unarchive")
async def unarchive(project_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    return await _archiving(request, db, project_id, False)
