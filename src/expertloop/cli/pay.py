"""``expertloop pay``: rates, budgets, crediting, reconciliation, earnings, adjustments."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from expertloop.cli.common import database, err, fail, operator, refused, settings, user_id

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
    premium: Annotated[
        list[str] | None,
        typer.Option(help='A premium as JSON, repeatable: {"skill": "medicine", "min_level": '
                          '3, "basis_points": 2000} or {"credential": "licence", '
                          '"amount_minor": 50}.'),
    ] = None,
    review_window: Annotated[
        int | None,
        typer.Option(help="Seconds after an answer when its pending pay is approved unless a "
                          "review rejected it first (default: only a review approves)."),
    ] = None,
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """Give the project a new rate, from now on (answers paid keep what they earned)."""
    from expertloop.services.pay import set_rate

    premiums = []
    for number, text in enumerate(premium or [], start=1):
        try:
            premiums.append(json.loads(text))
        except ValueError as exc:
            fail(f"--premium number {number} is not JSON: {exc}")
    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            rate = set_rate(db, actor=actor, project_id=project, kind=kind, amount_minor=amount,
                            currency=currency, max_seconds_per_item=max_seconds,
                            premiums=premiums, review_window_seconds=review_window)
    typer.echo(json.dumps({"project": project, "rate_id": rate.id, "kind": rate.kind,
                           "amount_minor": rate.amount_minor, "currency": rate.currency,
                           "max_seconds_per_item": rate.max_seconds_per_item,
                           "effective_from": rate.effective_from.isoformat(),
                           "review_window_seconds": rate.review_window_seconds,
                           "premiums": [p.to_dict() for p in rate.premiums]}))


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
        with refused():
            status = set_budget(db, actor=actor, project_id=project, amount_minor=amount,
                                currency=currency)
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
        with refused():
            rows = earnings(db, actor=actor, worker_id=user_id(db, worker))
    typer.echo(json.dumps([row.to_dict() for row in rows]))


@group.command("bonus-rule")
def pay_bonus_rule(
    project: Annotated[int, typer.Argument(help="Project id.")],
    metric: Annotated[str, typer.Option(
        help="review_acceptance, gold_accuracy or consensus_agreement.")],
    period: Annotated[str, typer.Option(help="week (ISO, UTC) or month (UTC).")],
    threshold: Annotated[int, typer.Option(
        help="The share to reach, in basis points: 9000 is 90 %.")],
    min_count: Annotated[int, typer.Option(help="Observations needed in the period.")],
    amount: Annotated[int, typer.Option(help="The bonus in minor units (cents).")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code, e.g. USD.")],
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """Add a bonus rule, paid per closed period by the pay.bonus job."""
    from expertloop.services.pay_bonuses import add_rule

    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            rule = add_rule(db, actor=actor, project_id=project, metric=metric, period=period,
                            threshold_bp=threshold, min_count=min_count, amount_minor=amount,
                            currency=currency)
    typer.echo(json.dumps(rule.to_dict()))


@group.command("bonus-rules")
def pay_bonus_rules(
    project: Annotated[int, typer.Argument(help="Project id.")],
    disable: Annotated[int | None, typer.Option(
        help="Disable this rule first (periods ending later are not paid).")] = None,
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """List the project's bonus rules (one JSON object a line)."""
    from expertloop.services.pay_bonuses import disable_rule, list_rules

    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            if disable is not None:
                disable_rule(db, actor=actor, project_id=project, rule_id=disable)
            rules = list_rules(db, actor=actor, project_id=project)
    for rule in rules:
        typer.echo(json.dumps(rule.to_dict()))


@group.command("bonus")
def pay_bonus() -> None:
    """Pay every bonus rule's closed periods not paid yet (the pay.bonus job's pass)."""
    from expertloop.services.pay_bonuses import pay_bonuses

    with database(settings()) as db:
        written = pay_bonuses(db)
    typer.echo(json.dumps({"bonuses": written}))


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
        with refused():
            tx = adjust(db, actor=actor, project_id=project, worker_id=user_id(db, worker),
                        amount_minor=amount, currency=currency, reason=reason)
    typer.echo(json.dumps({"transaction_id": tx}))


@group.command("effective-rates")
def pay_effective_rates(
    project: Annotated[int, typer.Argument(help="Project id.")],
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """Each worker's effective hourly rate (pay over time on task) against
    EXPERTLOOP_PAY_MINIMUM_HOURLY, with a warning when the project pays below it."""
    from expertloop.services.pay_effective import effective_rates, parse_minimum

    config = settings()
    try:
        minimum = parse_minimum(config.pay_minimum_hourly)
    except ValueError as exc:
        fail(str(exc))
    with database(config) as db:
        actor = operator(db, as_user)
        with refused():
            report = effective_rates(db, actor=actor, project_id=project, minimum=minimum)
    typer.echo(json.dumps(report.to_dict()))
    if report.warning:
        err.print(f"[yellow]warning:[/yellow] {report.warning}", highlight=False)


@group.command("account")
def pay_account(
    worker: Annotated[str, typer.Argument(help="User id or username.")],
    reference: Annotated[str, typer.Argument(help="Where payouts go (IBAN, e-mail, id).")],
) -> None:
    """Set where a worker's payouts go (written to payout files)."""
    from expertloop.services.pay_payouts import set_payout_reference

    with database(settings()) as db:
        actor = operator(db, None)
        with refused():
            set_payout_reference(db, actor=actor, worker_id=user_id(db, worker),
                                 reference=reference)


@group.command("payout")
def pay_payout(
    batch: Annotated[str, typer.Argument(help="The batch's name, e.g. 2026-12.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code, e.g. USD.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The payout CSV to write.")],
) -> None:
    """Pay every worker's approved money as one batch and write its CSV (pseudonym, account
    reference, amount, currency). Running a batch again pays nothing twice."""
    from expertloop.services.pay_payouts import pay_batch

    config = settings()
    with database(config) as db:
        actor = operator(db, None)
        with refused():
            done = pay_batch(db, actor=actor, batch=batch, currency=currency, path=output,
                             secret_key=config.secret_key)
    typer.echo(json.dumps(done.to_dict()))


@group.command("export")
def pay_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default stdout.")
    ] = None,
) -> None:
    """Write the whole ledger as Beancount (for accountants' tools)."""
    from expertloop.services.pay_payouts import write_beancount

    with database(settings()) as db:
        actor = operator(db, None)
        if output is None:
            write_beancount(db, actor=actor, sink=sys.stdout)
            return
        with output.open("w", encoding="utf-8") as sink:
            lines = write_beancount(db, actor=actor, sink=sink)
    err.print(f"wrote {lines} lines to {output}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="pay")
