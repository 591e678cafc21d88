"""The worker's pay page, ``/me/pay``: their money per currency (pending review, approved,
paid) and their statement's latest movements, each with its reason."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response

from expertloop.api.deps import DatabaseDep
from expertloop.domain.money import format_minor
from expertloop.errors import ExpertloopError
from expertloop.services import pay_ledger
from expertloop.services.runtime import Runtime
from expertloop.web.pages import error_page, page_context, redirect_to_login
from expertloop.web.rendering import render_page
from expertloop.web.sessions import session_user

__all__ = ["install", "router"]

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


def install(app: FastAPI, _runtime: Runtime) -> None:
    app.include_router(router)
