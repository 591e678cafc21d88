"""``expertloop pay``: rates, budgets, crediting, reconciliation, earnings, adjustments."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from expertloop.cli.common import database, err, fail, operator, settings, user_id
from expertloop.errors import ExpertloopError

__all__ = ["group", "register"]

group = typer.Typer(help="Pay: rates, the ledger, budgets.", no_args_is_help=True)

_AS = typer.Option("--as", help="Act as this manager (default: the first admin).")


@group.command("rate")
def pay_rate(
    project: Annotated[int, typer.Argument(help="Project id.")],
    kind: Annotated[str, typer.Option(help="piece (per answer) or hourly (time on task).")],
    amount: Annotated[
        int, typer.Option(help="Minor units (cents): per answer, or per hour for hourly.")
    ],
    currency: Annotated[str, typer.Option(help="ISO 4217 code, e.g. USD.")],
    max_seconds: Annotated[
        int | None, typer.Option(help="Hourly: count at most this many seconds an answer.")
    ] = None,
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """Give the project a new rate, from now on (answers paid keep what they earned)."""
    from expertloop.services.pay import set_rate

    with database(settings()) as db:
        actor = operator(db, as_user)
        try:
            rate = set_rate(db, actor=actor, project_id=project, kind=kind, amount_minor=amount,
                            currency=currency, max_seconds_per_item=max_seconds)
        except ExpertloopError as exc:
            fail(exc.message)
    typer.echo(json.dumps({"project": project, "rate_id": rate.id, "kind": rate.kind,
                           "amount_minor": rate.amount_minor, "currency": rate.currency,
                           "max_seconds_per_item": rate.max_seconds_per_item,
                           "effective_from": rate.effective_from.isoformat()}))


@group.command("budget")
def pay_budget_set(
    project: Annotated[int, typer.Argument(help="Project id.")],
    amount: Annotated[int, typer.Option(help="The budget in minor units (cents).")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code, e.g. USD.")],
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """Set or raise the project's budget: leasing stops before spend would pass it."""
    from expertloop.services.pay_budget import set_budget

    with database(settings()) as db:
        actor = operator(db, as_user)
        try:
            status = set_budget(db, actor=actor, project_id=project, amount_minor=amount,
                                currency=currency)
        except ExpertloopError as exc:
            fail(exc.message)
    typer.echo(json.dumps(status.to_dict()))


@group.command("sweep")
def pay_sweep(
    grace: Annotated[
        float | None,
        typer.Option(help="Seconds an answer or decision must be old before it is credited "
                     "(default 10)."),
    ] = None,
) -> None:
    """Credit new answers and apply new review decisions now (the pay.credit job's pass)."""
    from expertloop.services.pay import CREDIT_GRACE_SECONDS, credit

    with database(settings()) as db:
        result = credit(db, grace_seconds=CREDIT_GRACE_SECONDS if grace is None else grace)
    typer.echo(json.dumps(result.to_dict()))


@group.command("reconcile")
def pay_reconcile(
    grace: Annotated[
        float | None,
        typer.Option(help="Leave out answers and decisions younger than this (default 10 s)."),
    ] = None,
) -> None:
    """Recompute every account from answers, reviews, rates and adjustments and compare it
    with the ledger; exit 1 on any difference."""
    from expertloop.services.pay import CREDIT_GRACE_SECONDS
    from expertloop.services.pay_ledger import reconcile

    with database(settings()) as db:
        result = reconcile(db, grace_seconds=CREDIT_GRACE_SECONDS if grace is None else grace)
    typer.echo(json.dumps(result.to_dict()))
    if not result.matches:
        err.print("[red]the ledger does not match the answers and reviews[/red]")
        raise typer.Exit(code=1)


@group.command("earnings")
def pay_earnings(
    worker: Annotated[str, typer.Argument(help="User id or username.")],
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """A worker's pending, approved and paid money, per currency (minor units)."""
    from expertloop.services.pay_ledger import earnings

    with database(settings()) as db:
        actor = operator(db, as_user)
        try:
            rows = earnings(db, actor=actor, worker_id=user_id(db, worker))
        except ExpertloopError as exc:
            fail(exc.message)
    typer.echo(json.dumps([row.to_dict() for row in rows]))


@group.command("adjust")
def pay_adjust(
    project: Annotated[int, typer.Argument(help="Project id.")],
    worker: Annotated[str, typer.Argument(help="User id or username.")],
    amount: Annotated[int, typer.Option(help="Minor units; negative to take back.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code, e.g. USD.")],
    reason: Annotated[str, typer.Option(help="Why (required; shown on the statement).")],
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """A manual adjustment to a worker's approved pay, paid from the project's budget."""
    from expertloop.services.pay_ledger import adjust

    with database(settings()) as db:
        actor = operator(db, as_user)
        try:
            tx = adjust(db, actor=actor, project_id=project, worker_id=user_id(db, worker),
                        amount_minor=amount, currency=currency, reason=reason)
        except ExpertloopError as exc:
            fail(exc.message)
    typer.echo(json.dumps({"transaction_id": tx}))


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="pay")
