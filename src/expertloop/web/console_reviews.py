"""The console's reviews page: ``/manage/projects/{id}/reviews``.

A manager queues a random sample of answers for review (a share or a number of the answers
not queued yet, from every worker or one), sees the queue (pending and decided reviews,
filtered by status) and each worker's outcomes: accepted, rejected and fixed counts and the
acceptance rate with its 95% Beta interval (``services.reviews.worker_outcomes``: one
grouped query over the project's reviews).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from expertloop.api.deps import DatabaseDep
from expertloop.api.schemas import MAX_ID, SmallId
from expertloop.domain import Project, ReviewStatus, User
from expertloop.errors import ExpertloopError, InputInvalid
from expertloop.services import reviews
from expertloop.services.runtime import Runtime
from expertloop.store import Database
from expertloop.web.console_access import Refused
from expertloop.web.ops_pages import console_context, human_time, managed_page, managed_post
from expertloop.web.pages import check_form_csrf, error_page, redirect
from expertloop.web.rendering import render_page

__all__ = ["install", "router"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _page(
    request: Request,
    db: Database,
    user: User,
    project: Project,
    *,
    status: str | None,
    after: int,
    queued: int | None = None,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    counts, outcomes = reviews.worker_outcomes(db, actor=user, project_id=project.id)
    found, names = reviews.review_queue(
        db, actor=user, project_id=project.id, status=status, after=after, limit=PAGE_SIZE
    )
    candidates = reviews.sample_candidates(db, actor=user, project_id=project.id)
    workers = [
        {
            "name": w.username,
            "accepted": w.accepted,
            "rejected": w.rejected,
            "fixed": w.fixed,
            "pending": w.pending,
            "decided": w.decided,
            "rate": _percent(w.acceptance_rate),
            "interval": (
                f"{_percent(w.acceptance_lower)}–{_percent(w.acceptance_upper)}"
                if w.acceptance_lower is not None
                else "–"
            ),
        }
        for w in outcomes
    ]
    rows = [
        {
            "id": r.id,
            "item": r.external_id or f"#{r.item_id}",
            "worker": names.get(r.worker_id, f"user {r.worker_id}"),
            "source": r.source.value,
            "status": r.status.value,
            "reviewer": names.get(r.reviewer_id, "") if r.reviewer_id else "",
            "requested": human_time(r.requested_at),
            "decided": human_time(r.decided_at),
            "comment": r.comment,
        }
        for r in found
    ]
    next_after = found[-1].id if len(found) == PAGE_SIZE else None
    base = f"/manage/projects/{project.id}/reviews"
    next_url = None
    if next_after is not None:
        query = {"after": next_after, **({"status": status} if status else {})}
        next_url = f"{base}?{urlencode(query)}"
    return render_page(
        request,
        "console/reviews.html",
        {
            **console_context(request, user, project, "reviews"),
            "counts": counts,
            "total": sum(counts.values()),
            "workers": workers,
            "rows": rows,
            "status": status or "",
            "statuses": [s.value for s in ReviewStatus],
            "next_url": next_url,
            "first_page": after == 0,
            "candidates": candidates,
            "queued": queued,
            "error": error,
            "form": {"mode": "fraction", "fraction": "10", "count": "", "worker": "",
                     **(form or {})},
        },
        status_code=status_code,
    )


@router.get("/manage/projects/{project_id}/reviews")
def reviews_page(
    project_id: SmallId,
    request: Request,
    db: DatabaseDep,
    status: ReviewStatus | None = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    queued: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    """Queue a sample; the queue (filtered by ``status``, paged by ``after``); per-worker
    outcomes."""
    def render(user: User, project: Project) -> Response:
        return _page(
            request, db, user, project, status=status.value if status else None, after=after,
            queued=queued,
        )

    return managed_page(request, db, project_id, render)


def _sample(form: Any) -> dict[str, Any]:
    mode = str(form.get("mode") or "fraction")
    worker_raw = str(form.get("worker") or "").strip()
    worker_id = None
    if worker_raw:
        if not worker_raw.isdigit() or len(worker_raw) > 10:
            raise InputInvalid.on_field("worker", "choose a worker from the list")
        worker_id = int(worker_raw)
    if mode == "count":
        raw = str(form.get("count") or "").strip()
        if not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
            raise InputInvalid.on_field(
                "count", "the number of answers must be a whole number, 1 or more"
            )
        return {"count": int(raw), "worker_id": worker_id}
    if mode != "fraction":
        raise InputInvalid.on_field("mode", "choose a share or a number of answers")
    raw = str(form.get("fraction") or "").strip().rstrip("%")
    try:
        percent = float(raw)
    except ValueError:
        raise InputInvalid.on_field("fraction", "the share must be a percentage") from None
    if not 0 < percent <= 100:
        raise InputInvalid.on_field("fraction", "the share must be above 0% and at most 100%")
    return {"fraction": percent / 100, "worker_id": worker_id}


@router.post("/manage/projects/{project_id}/reviews")
async def queue_sample(project_id: SmallId, request: Request, db: DatabaseDep) -> Response:
    """Queue a random sample of answers for review, then show how many were queued."""
    try:
        user, project = await managed_post(request, db, project_id)
    except Refused as refused:
        return refused.response
    form = await request.form(max_files=0, max_fields=16)
    values = {k: str(v) for k, v in form.items()}
    try:
        check_form_csrf(request, form)
        sample = _sample(form)
        queued = await run_in_threadpool(
            lambda: reviews.request_reviews(db, actor=user, project_id=project.id, **sample)
        )
    except ExpertloopError as exc:
        if exc.status in (403, 404):
            return error_page(request, user, exc)
        failure = exc
        return await run_in_threadpool(
            lambda: _page(
                request, db, user, project, status=None, after=0, error=failure.message,
                form=values, status_code=failure.status,
            )
        )
    return redirect(f"/manage/projects/{project.id}/reviews?queued={queued}")


def install(app: FastAPI, _runtime: Runtime) -> None:
    app.include_router(router)
