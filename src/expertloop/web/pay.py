"""The worker's pay page, ``/me/pay``: their money per currency (pending review, approved,
paid) and their statement's latest movements, each with its reason."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

from expertloop.api.deps import DatabaseDep
from expertloop.domain import User
from expertloop.domain.money import format_minor
from expertloop.errors import ExpertloopError
from expertloop.services import pay_effective, pay_figures, pay_ledger
from expertloop.services.runtime import Runtime
from expertloop.web.pages import error_page, page_context, redirect_to_login
from expertloop.web.rendering import render_page
from expertloop.web.sessions import session_user

__all__ = ["install", "pay_overview", "router"]

router = APIRouter(include_in_schema=False)

# The statement's newest movements shown on the page (the API serves the whole statement).
SHOWN_LINES = 200


@router.get("/me/pay")
def my_pay_page(request: Request, db: DatabaseDep) -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    try:
        earnings = pay_ledger.earnings(db, actor=user, worker_id=user.id)
        statement = pay_ledger.statement(db, actor=user, worker_id=user.id)
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    lines = statement.lines[-SHOWN_LINES:][::-1]
    return render_page(
        request,
        "my_pay.html",
        {
            **page_context(request, user),
            "earnings": [
                {"currency": e.currency, "pending": format_minor(e.pending, e.currency),
                 "approved": format_minor(e.approved, e.currency),
                 "paid": format_minor(e.paid, e.currency)}
                for e in earnings
            ],
            "lines": [
                {"line": line, "amounts": {
                    account: format_minor(amount, line.currency)
                    for account, amount in line.amounts.items()}}
                for line in lines
            ],
            "total_lines": len(statement.lines),
        },
    )


def _money(amount: int | None, currency: str) -> str | None:
    return None if amount is None else f"{format_minor(amount, currency)} {currency}"


def pay_overview(runtime: Runtime, user: User, project_id: int) -> dict[str, Any] | None:
    """The console overview's pay section (formatted), or ``None`` when the project has no
    pay or the user may not see it."""
    try:
        minimum = pay_effective.parse_minimum(runtime.settings.pay_minimum_hourly)
    except ValueError:
        minimum = None
    try:
        figures = pay_figures.pay_figures(
            runtime.database, actor=user, project_id=project_id, minimum=minimum)
    except ExpertloopError:
        return None
    if figures is None:
        return None
    cur, report = figures.currency, figures.rates
    return {
        "figures": figures,
        "spend": _money(figures.spend_minor, cur),
        "other_spend": [_money(a, c) for c, a in sorted(figures.other_spend.items())],
        "per_accepted": _money(figures.cost_per_accepted_minor, cur),
        "per_finished": _money(figures.cost_per_finished_minor, cur),
        "project_hourly": _money(report.project_hourly_minor, cur),
        "minimum": None if minimum is None else _money(minimum.hourly_minor, minimum.currency),
        "warning": report.warning,
        "workers": [
            {"username": figures.usernames.get(w.worker_id, f"user {w.worker_id}"),
             "answers": w.answers, "hours": f"{w.seconds_on_task / 3600:.2f}",
             "paid": _money(w.paid_minor, w.currency),
             "hourly": _money(w.hourly_minor, w.currency), "below": w.below_minimum}
            for w in report.workers
        ],
    }


def install(app: FastAPI, _runtime: Runtime) -> None:
    app.include_router(router)
