"""The worker's pay page, ``/me/pay``: their money per currency (pending review, approved,
paid) and their statement for a month (``?month=2026-12``, default the current one, UTC):
the balances at both ends and its movements newest first, each with its reason, a page at a
time (``&after=`` the last line's transaction id for older ones)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

from expertloop.api.deps import DatabaseDep
from expertloop.domain import User
from expertloop.domain.money import format_minor
from expertloop.errors import ExpertloopError, InputInvalid
from expertloop.services import pay_effective, pay_figures, pay_ledger
from expertloop.services.runtime import Runtime
from expertloop.web.pages import error_page, page_context, redirect_to_login
from expertloop.web.rendering import render_page
from expertloop.web.sessions import session_user

__all__ = ["install", "pay_overview", "router"]

router = APIRouter(include_in_schema=False)

# The statement's movements per page, newest first ("Older movements" pages on).
SHOWN_LINES = 200


_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _month(value: str | None, now: datetime) -> datetime:
    """The first moment of the month ``YYYY-MM`` (default: the current one)."""
    if not value:
        return datetime(now.year, now.month, 1)
    found = _MONTH.match(value)
    if found is None or not 1970 <= int(found.group(1)) <= 9998:
        raise InputInvalid.on_field("month", "a month as YYYY-MM, e.g. 2026-12")
    return datetime(int(found.group(1)), int(found.group(2)), 1)


def _after(value: str | None) -> int | None:
    """The ``after`` cursor: the transaction id of the last line of the page before."""
    if value is None or value == "":
        return None
    if not value.isdigit() or not 1 <= int(value) <= 2**63 - 1:
        raise InputInvalid.on_field("after", "after must be the id of a line of this statement")
    return int(value)


def _next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def _previous_month(start: datetime) -> datetime:
    return (start.replace(year=start.year - 1, month=12) if start.month == 1
            else start.replace(month=start.month - 1))


@router.get("/me/pay")
def my_pay_page(request: Request, db: DatabaseDep) -> Response:
    user = session_user(request)
    if user is None:
        return redirect_to_login(request)
    try:
        since = _month(request.query_params.get("month"), db.clock.now())
        until = _next_month(since)
        after = _after(request.query_params.get("after"))
        earnings = pay_ledger.earnings(db, actor=user, worker_id=user.id)
        statement = pay_ledger.statement(db, actor=user, worker_id=user.id, since=since,
                                         until=until, limit=SHOWN_LINES, after=after,
                                         newest_first=True)
    except ExpertloopError as exc:
        return error_page(request, user, exc)
    currencies = sorted(set(statement.opening) | set(statement.closing))
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
            "month": since.strftime("%B %Y"),
            "month_param": since.strftime("%Y-%m"),
            "older": statement.next_after,
            "paged": after is not None,
            "previous": _previous_month(since).strftime("%Y-%m"),
            "next": until.strftime("%Y-%m") if until <= db.clock.now() else None,
            "balances": [
                {"currency": c, "accounts": [
                    {"account": account,
                     "opening": format_minor(statement.opening.get(c, {}).get(account, 0), c),
                     "closing": format_minor(statement.closing.get(c, {}).get(account, 0), c)}
                    for account in ("pending", "approved", "paid")]}
                for c in currencies
            ],
            "lines": [
                {"line": line, "amounts": {
                    account: format_minor(amount, line.currency)
                    for account, amount in line.amounts.items()}}
                for line in statement.lines
            ],
            "total_lines": statement.line_count,
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
