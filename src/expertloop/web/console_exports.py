"""The console's exports page: ``/manage/projects/{id}/exports``.

A manager picks a training format (the ones the project's task type offers) and the export's
filters, and starts an export job (the same job as ``POST /api/v1/projects/{id}/exports``);
the page follows its progress (``static/console_jobs.js`` polls ``GET /api/v1/jobs/{id}``),
then links its file and dataset card (``GET /api/v1/exports/{job_id}/file`` and ``/card``).
Past exports are listed with who started them, when, the format and the rows written.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from expertloop.api.deps import DatabaseDep
from expertloop.api.schemas import Id, SmallId
from expertloop.domain import Project, User
from expertloop.errors import ExpertloopError, InputInvalid, NotFound
from expertloop.services import export_history, export_jobs
from expertloop.services.exports import ExportOptions
from expertloop.services.jobs import get_job
from expertloop.services.runtime import Runtime
from expertloop.store import Database
from expertloop.web.console_access import Refused
from expertloop.web.ops_pages import (
    console_context,
    human_bytes,
    human_time,
    managed_page,
    managed_post,
)
from expertloop.web.pages import check_form_csrf, error_page, redirect
from expertloop.web.rendering import render_page

__all__ = ["install", "router"]

router = APIRouter(include_in_schema=False)

FORMAT_HINTS = {
    "preference": "chosen and rejected responses (DPO, reward models)",
    "unpaired": "one response with a good/bad label (KTO)",
    "sft": "the best response as a completion (supervised fine-tuning)",
    "reward": "responses with a score (reward modelling)",
    "raw": "every answer as it was given, with consensus",
}
OUTPUTS = (("jsonl", "JSON lines"), ("parquet", "Parquet"))


def _export_view(entry: export_history.PastExport) -> dict[str, Any]:
    job = entry.job
    result = job.result or {}
    return {
        "id": job.id,
        "when": human_time(job.created_at),
        "by": entry.username or "–",
        "format": entry.format,
        "output": entry.output,
        "rows": entry.rows,
        "size": human_bytes(result.get("bytes")) if result.get("bytes") is not None else "",
        "status": job.status,
        "error": (job.error or "").splitlines()[0] if job.error else "",
        "options": entry.options,
    }


def _page(
    request: Request,
    db: Database,
    user: User,
    project: Project,
    *,
    show: int | None = None,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    choices = export_history.export_choices(db, actor=user, project_id=project.id)
    past = export_history.past_exports(db, actor=user, project_id=project.id)
    current = None
    if show is not None:
        job = get_job(db, actor=user, job_id=show)
        if job.kind != export_jobs.EXPORT_KIND or job.project_id != project.id:
            raise NotFound(f"export {show} not found in project {project.id}")
        current = _export_view(export_history.PastExport(job, None))
    return render_page(
        request,
        "console/exports.html",
        {
            **console_context(request, user, project, "exports"),
            "formats": [(f, FORMAT_HINTS.get(f, "")) for f in choices.formats],
            "criteria": choices.criteria,
            "outputs": OUTPUTS,
            "past": [_export_view(p) for p in past],
            "current": current,
            "error": error,
            "form": {
                "format": choices.formats[0], "output": "jsonl", "min_confidence": "",
                "min_agreement": "", "criterion": "", "include_gold": "", "reviewed_only": "",
                "standard": "", **(form or {}),
            },
        },
        status_code=status_code,
    )


@router.get("/manage/projects/{project_id}/exports")
def exports_page(
    project_id: SmallId, request: Request, db: DatabaseDep, show: Id | None = None
) -> Response:
    """The export form, the export ``show`` (progress, then downloads), past exports."""

    def render(user: User, project: Project) -> Response:
        return _page(request, db, user, project, show=show)

    return managed_page(request, db, project_id, render)


def _fraction(form: Any, name: str) -> float | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InputInvalid.on_field(
            name, f"{name.replace('_', ' ')}: {raw!r} is not a number"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise InputInvalid.on_field(name, f"{name.replace('_', ' ')} must be between 0 and 1")
    return value


def _options(form: Any) -> tuple[ExportOptions, str]:
    output = str(form.get("output") or "jsonl")
    criterion = str(form.get("criterion") or "").strip() or None
    options = ExportOptions(
        format=str(form.get("format") or ""),
        conversational=form.get("standard") is None,
        min_confidence=_fraction(form, "min_confidence"),
        min_agreement=_fraction(form, "min_agreement"),
        include_gold=form.get("include_gold") is not None,
        criterion=criterion,
        reviewed_only=form.get("reviewed_only") is not None,
    )
    return options, output


@router.post("/manage/projects/{project_id}/exports")
async def start_export(project_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    """Start an export job with the form's format and filters, then show it."""
    try:
        user, project = await managed_post(request, db, project_id)
    except Refused as refused:
        return refused.response
    form = await request.form(max_files=0, max_fields=16)
    values = {k: str(v) for k, v in form.items()}
    try:
        check_form_csrf(request, form)
        options, output = _options(form)
        job = await run_in_threadpool(
            lambda: export_jobs.start_export_job(
                db, actor=user, project_id=project.id, options=options, output=output
            )
        )
    except ExpertloopError as exc:
        if exc.status in (403, 404):
            return error_page(request, user, exc)
        failure = exc
        return await run_in_threadpool(
            lambda: _page(
                request, db, user, project, error=failure.message, form=values,
                status_code=failure.status,
            )
        )
    request.app.state.job_runner.wake()
    return redirect(f"/manage/projects/{project.id}/exports?show={job.id}")


def install(app: FastAPI, _runtime: Runtime) -> None:
    app.include_router(router)
