"""``expertloop pay``: rates, budgets, crediting, reconciliation, earnings, statements,
adjustments."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from expertloop.cli.common import database, err, fail, operator, refused, settings, user_id

if TYPE_CHECKING:
    from expertloop.domain import User
    from expertloop.services.database import Database
    from expertloop.services.pay_ledger import Statement, StatementLine

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


def _moment(value: str | None, option: str) -> datetime | None:
    """An ISO date or date-time from the command line as the ledger stores times: naive
    UTC (a time with an offset is converted, one without is taken as UTC)."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option}: {value!r} is not an ISO date or date-time "
             "(e.g. 2026-12-01 or 2026-12-01T09:30:00Z)")
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def _statement_pages(
    db: Database, *, actor: User, worker_id: int, since: datetime | None, until: datetime | None,
    page_size: int,
) -> Iterator[Statement]:
    """The statement a page at a time (the API's keyset cursor), so a worker's whole
    history is never held at once."""
    from expertloop.services.pay_ledger import statement

    after = None
    while True:
        with refused():
            page = statement(db, actor=actor, worker_id=worker_id, since=since, until=until,
                             limit=page_size, after=after)
        yield page
        if page.next_after is None:
            return
        after = page.next_after


_ACCOUNTS = ("pending", "approved", "paid")
_CSV_COLUMNS = ("transaction_id", "created_at", "kind", "project_id", "answer_id",
                "currency", *(f"{a}_minor" for a in _ACCOUNTS), "memo")


def _printable(text: str) -> str:
    # A memo is a manager's text: no control characters reach the terminal.
    return "".join(" " if ord(c) < 32 or 0x7F <= ord(c) < 0xA0 else c for c in text)


def _csv_text(text: str) -> str:
    # A spreadsheet must not run a memo as a formula (OWASP "CSV injection").
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _amount(line: StatementLine, account: str) -> str:
    from expertloop.domain.money import format_minor

    if account not in line.amounts:
        return ""
    return format_minor(line.amounts[account], line.currency)


def _table_row(line: StatementLine) -> str:
    when = line.created_at.isoformat(sep=" ", timespec="seconds")
    return (f"{when:<19}  {line.transaction_id:>9}  {line.kind:<10}  "
            f"{'' if line.project_id is None else line.project_id:>7}  "
            f"{'' if line.answer_id is None else line.answer_id:>9}  {line.currency:<3}  "
            + "  ".join(f"{_amount(line, a):>12}" for a in _ACCOUNTS)
            + f"  {_printable(line.memo)}").rstrip()


_TABLE_HEADER = (f"{'When (UTC)':<19}  {'Tx':>9}  {'Kind':<10}  {'Project':>7}  "
                 f"{'Answer':>9}  {'Cur':<3}  "
                 + "  ".join(f"{a.capitalize():>12}" for a in _ACCOUNTS) + "  Memo")


def _balances_table(last: Statement) -> Any:
    from rich.table import Table

    from expertloop.domain.money import format_minor

    table = Table(title="Balances")
    for name in ("Currency", "Account", "Opening", "Movement", "Closing"):
        table.add_column(name, justify="left" if name in ("Currency", "Account") else "right")
    for currency in sorted(set(last.opening) | set(last.closing)):
        opening, closing = last.opening.get(currency, {}), last.closing.get(currency, {})
        for account in _ACCOUNTS:
            if account not in opening and account not in closing:
                continue
            start, end = opening.get(account, 0), closing.get(account, 0)
            table.add_row(currency, account, format_minor(start, currency),
                          format_minor(end - start, currency), format_minor(end, currency))
    return table


@group.command("statement")
def pay_statement(
    worker: Annotated[str, typer.Argument(help="User id or username.")],
    since: Annotated[str | None, typer.Option(
        help="Start of the period (included): an ISO date or date-time, UTC unless it has "
             "an offset.")] = None,
    until: Annotated[str | None, typer.Option(
        help="End of the period (excluded), as --since.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the statement as one JSON object (as the API returns it, "
                       "every line; amounts in minor units).")] = False,
    as_csv: Annotated[bool, typer.Option(
        "--csv", help="Print the lines as CSV (amounts in minor units; no balances).")] = False,
    page_size: Annotated[int, typer.Option(
        help="Lines read from the database at a time (1 to 5000).")] = 1000,
    as_user: Annotated[str | None, typer.Option(
        "--as", help="Act as this user: the worker themself, or an admin (default: the "
                     "first admin).")] = None,
) -> None:
    """A worker's statement for a period: every movement of their pending, approved and
    paid money, oldest first, and the balances at both ends. Read and printed a page at a
    time, however long."""
    from expertloop.services.pay_ledger import MAX_STATEMENT_PAGE

    start, end = _moment(since, "--since"), _moment(until, "--until")
    if start is not None and end is not None and end <= start:
        fail("--until must be later than --since")
    if as_json and as_csv:
        fail("choose one of --json and --csv")
    if not 1 <= page_size <= MAX_STATEMENT_PAGE:
        fail(f"--page-size must be 1 to {MAX_STATEMENT_PAGE}")
    with database(settings()) as db:
        actor = operator(db, as_user)
        pages = _statement_pages(db, actor=actor, worker_id=user_id(db, worker), since=start,
                                 until=end, page_size=page_size)
        if as_csv:
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(_CSV_COLUMNS)
            for page in pages:
                writer.writerows(
                    [line.transaction_id, line.created_at.isoformat(), line.kind,
                     line.project_id, line.answer_id, line.currency,
                     *(line.amounts.get(a, "") for a in _ACCOUNTS), _csv_text(line.memo)]
                    for line in page.lines)
            return
        if as_json:
            _print_json(pages)
            return
        _print_table(pages)


def _print_json(pages: Iterator[Statement]) -> None:
    """One JSON object shaped as the API's statement with every line (``next_after``
    null), written as the pages come: the balances and the count, those of the last page
    read, follow the lines."""
    out = sys.stdout
    last: Statement | None = None
    written = 0
    for page in pages:
        if last is None:
            out.write(json.dumps({"worker_id": page.worker_id,
                                  "since": page.to_dict()["since"],
                                  "until": page.to_dict()["until"]})[:-1] + ', "lines": [')
        for line in page.lines:
            out.write(("," if written else "") + "\n" + json.dumps(line.to_dict()))
            written += 1
        last = page
    assert last is not None  # a statement has at least one page
    out.write(f'\n], "opening_minor": {json.dumps(last.opening)}, '
              f'"closing_minor": {json.dumps(last.closing)}, '
              f'"line_count": {last.line_count}, "next_after": null}}\n')


def _print_table(pages: Iterator[Statement]) -> None:
    """The lines as aligned text a page at a time (amounts in the currency's units), then
    the balances of the last page read."""
    from rich.console import Console

    last: Statement | None = None
    for page in pages:
        if last is None:
            period = "".join(
                f" {word} {when.isoformat(sep=' ')}"
                for word, when in (("from", page.since), ("until", page.until)) if when)
            typer.echo(f"Statement of user {page.worker_id}{period}: {page.line_count} "
                       "lines (times in UTC)")
            typer.echo(_TABLE_HEADER)
        for line in page.lines:
            typer.echo(_table_row(line))
        last = page
    assert last is not None
    Console(highlight=False).print(_balances_table(last))


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="pay")
