"""The ledger as people use it: reconciliation, earnings, manual adjustments.

:func:`reconcile` recomputes from the answers, the review decisions and the rates what
every account should hold (each ripe answer's credit, approval or reversal, see
:func:`expertloop.services.pay.answer_entries`; plus manual adjustments and payouts, which
are inputs like reviews), compares it with the ledger, and lists every difference. Facts
younger than the crediting grace period are left out on both sides: the ledger is not
expected to hold them yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from expertloop.domain import LedgerAccount, LedgerKind, User
from expertloop.domain.money import MoneyError, check_currency
from expertloop.domain.policies import can_read_gold
from expertloop.errors import InputInvalid, NotFound, PermissionDenied
from expertloop.services.pay import (
    CREDIT_GRACE_SECONDS,
    MAX_AMOUNT_MINOR,
    RateBook,
    answer_entries,
    managed_project,
    window_end,
)
from expertloop.store import Database, audit
from expertloop.store import pay as pay_store
from expertloop.store import pay_budgets as budget_store
from expertloop.store import pay_checks as check_store
from expertloop.store import pay_statements as statement_store
from expertloop.store.pay import Entry, Leg
from expertloop.store.pay_checks import Owner

__all__ = [
    "MAX_STATEMENT_PAGE",
    "Difference",
    "Earnings",
    "Reconciliation",
    "Statement",
    "StatementLine",
    "adjust",
    "earnings",
    "reconcile",
    "statement",
]

MAX_REASON_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Difference:
    """An account whose ledger balance is not what the facts say it should be."""

    owner: str  # "worker" or "project"
    owner_id: int
    account: str  # "pending", "approved+paid" or "budget"
    currency: str
    expected: int
    ledger: int

    def to_dict(self) -> dict[str, Any]:
        return {"owner": self.owner, "owner_id": self.owner_id, "account": self.account,
                "currency": self.currency, "expected": self.expected, "ledger": self.ledger}


@dataclass(frozen=True, slots=True)
class Reconciliation:
    as_of: datetime
    answers_checked: int
    accounts_checked: int
    missing_credits: int
    duplicate_credits: int
    differences: list[Difference] = field(default_factory=list)
    unbalanced_transactions: list[int] = field(default_factory=list)
    budget_differences: list[int] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not (self.differences or self.unbalanced_transactions or self.missing_credits
                    or self.duplicate_credits or self.budget_differences)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ledger_matches": self.matches, "as_of": self.as_of.isoformat(),
            "answers_checked": self.answers_checked, "accounts_checked": self.accounts_checked,
            "missing_credits": self.missing_credits,
            "duplicate_credits": self.duplicate_credits,
            "differences": [d.to_dict() for d in self.differences],
            "unbalanced_transactions": self.unbalanced_transactions,
            "budget_differences": self.budget_differences,
        }


def _group(key: Owner) -> Owner:
    # Payouts move approved money to paid: together they are what review approved.
    kind, owner_id, account, currency = key
    if account in (LedgerAccount.APPROVED.value, LedgerAccount.PAID.value):
        return (kind, owner_id, "approved+paid", currency)
    return key


def reconcile(
    db: Database, *, grace_seconds: float = CREDIT_GRACE_SECONDS, batch: int = 5000
) -> Reconciliation:
    """Compare the ledger with what the answers, reviews, rates and adjustments call for."""
    now = db.clock.now()
    as_of = now - timedelta(seconds=grace_seconds)
    expected: dict[Owner, int] = {}
    checked = missing = 0
    with db.read() as conn:
        book = RateBook(pay_store.rates(conn))
        projects = book.project_ids
        after = 0
        while projects:
            rows = pay_store.reconcile_answers(conn, projects, after, batch)
            if not rows:
                break
            after = rows[-1].answer_id
            for facts in rows:
                if facts.created_at > as_of:
                    continue
                if facts.auto_approved:
                    # A window's approval already written counts only once its window has
                    # ended (a pass younger than ``as_of`` may have written it): one written
                    # before is caught.
                    rate = book.rate_at(facts.project_id, facts.created_at)
                    ends = None if rate is None else window_end(rate, facts.created_at)
                    if ends is None or ends > now:
                        facts = replace(facts, auto_approved=False)
                young_decision = facts.decided_at is not None and facts.decided_at > as_of
                if young_decision:
                    facts = pay_store.AnswerFacts(
                        facts.answer_id, facts.project_id, facts.worker_id, facts.duration_ms,
                        facts.created_at, credited=facts.credited,
                        premium_ids=facts.premium_ids, auto_approved=facts.auto_approved,
                    )
                entries = answer_entries(book, facts, as_of=as_of)
                if not entries:
                    continue
                checked += 1
                if not facts.credited:
                    missing += 1
                for entry in entries:
                    for leg in entry.legs:
                        key = _group(check_store._owner(
                            leg.worker_id, leg.project_id, leg.account.value, leg.currency))
                        expected[key] = expected.get(key, 0) + leg.amount
        from expertloop.services.pay_bonuses import expected_entries

        for entry in expected_entries(conn):
            for leg in entry.legs:
                key = _group(check_store._owner(
                    leg.worker_id, leg.project_id, leg.account.value, leg.currency))
                expected[key] = expected.get(key, 0) + leg.amount
        for key, amount in check_store.manual_totals(conn).items():
            expected[_group(key)] = expected.get(_group(key), 0) + amount
        ledger: dict[Owner, int] = {}
        young = check_store.postings_of_young_effects(conn, as_of)
        for key, amount in check_store.account_totals(conn).items():
            net = amount - young.get(key, 0)
            ledger[_group(key)] = ledger.get(_group(key), 0) + net
        unbalanced = check_store.unbalanced_transactions(conn)
        duplicates = check_store.duplicate_effects(conn)
        spend = {
            b.project_id: (b.currency, b.spent_minor) for b in budget_store.budgets(conn)
        }
        all_budget = check_store.account_totals_of_budgets(conn)
    differences = [
        Difference(kind, owner_id, account, currency, expected.get(key, 0), ledger.get(key, 0))
        for key in sorted(set(expected) | set(ledger))
        for kind, owner_id, account, currency in [key]
        if expected.get(key, 0) != ledger.get(key, 0)
    ]
    budget_differences = sorted(
        project_id for project_id, (currency, spent) in spend.items()
        if -all_budget.get((project_id, currency), 0) != spent
    )
    return Reconciliation(
        as_of, checked, len(set(expected) | set(ledger)), missing, duplicates, differences,
        unbalanced, budget_differences,
    )


@dataclass(frozen=True, slots=True)
class Earnings:
    """A worker's money per currency: pending review, approved (payable), and paid."""

    worker_id: int
    currency: str
    pending: int = 0
    approved: int = 0
    paid: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"worker_id": self.worker_id, "currency": self.currency,
                "pending_minor": self.pending, "approved_minor": self.approved,
                "paid_minor": self.paid}


def _may_see_worker(actor: User, worker_id: int) -> bool:
    return actor.id == worker_id or can_read_gold(actor, is_member=False)


def earnings(db: Database, *, actor: User, worker_id: int) -> list[Earnings]:
    """The worker's balances (their own, or anyone's for an admin)."""
    if not _may_see_worker(actor, worker_id):
        raise PermissionDenied("you can see only your own earnings")
    with db.read() as conn:
        rows = pay_store.balances(conn, worker_id=worker_id)
    totals: dict[str, dict[str, int]] = {}
    for _w, _p, account, currency, amount in rows:
        per = totals.setdefault(currency, {})
        per[account] = per.get(account, 0) + amount
    return [
        Earnings(worker_id, currency, per.get("pending", 0), per.get("approved", 0),
                 per.get("paid", 0))
        for currency, per in sorted(totals.items())
    ]


def adjust(
    db: Database,
    *,
    actor: User,
    project_id: int,
    worker_id: int,
    amount_minor: int,
    currency: str,
    reason: str,
) -> int:
    """A manager's manual adjustment (a bonus, or a correction if negative), with a required
    reason: the project's budget pays the worker's approved balance. Returns the
    transaction id. Audited; never edits an earlier transaction."""
    reason = reason.strip()
    if not reason:
        raise InputInvalid.on_field("reason", "say why you adjust this worker's pay")
    if len(reason) > MAX_REASON_CHARS:
        raise InputInvalid.on_field("reason", f"at most {MAX_REASON_CHARS} characters")
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or not (
        amount_minor != 0 and abs(amount_minor) <= MAX_AMOUNT_MINOR
    ):
        raise InputInvalid.on_field(
            "amount_minor", f"a non-zero integer in minor units, at most {MAX_AMOUNT_MINOR}"
        )
    try:
        code = check_currency(currency)
    except MoneyError as exc:
        raise InputInvalid.on_field("currency", str(exc)) from None
    now = db.clock.now()
    with db.write() as conn:
        managed_project(conn, actor, project_id)
        if not pay_store.is_member(conn, project_id, worker_id):
            raise NotFound(f"user {worker_id} is not a member of project {project_id}")
        key = f"adjustment:{project_id}:{worker_id}:{now.isoformat()}:{actor.id}"
        entry = Entry(
            key, LedgerKind.ADJUSTMENT,
            (Leg(LedgerAccount.BUDGET, -amount_minor, code, project_id, None),
             Leg(LedgerAccount.APPROVED, amount_minor, code, project_id, worker_id)),
            project_id=project_id, worker_id=worker_id, created_by=actor.id, memo=reason,
        )
        if not pay_store.post_entries(conn, [entry], now=now):
            raise InputInvalid("an identical adjustment was just made; try again")
        budget_store.add_spend(conn, {project_id: amount_minor})
        tx_id = pay_store.transaction_id(conn, key)
        audit.record_event(
            conn, action="pay.adjusted", actor_id=actor.id, project_id=project_id, now=now,
            details={"transaction_id": tx_id, "worker_id": worker_id,
                     "amount_minor": amount_minor, "currency": code, "reason": reason},
        )
    return tx_id


@dataclass(frozen=True, slots=True)
class StatementLine:
    transaction_id: int
    created_at: datetime
    kind: str
    project_id: int | None
    answer_id: int | None
    memo: str
    # What the transaction moved in the worker's accounts: {"pending": -100, "approved": 100}.
    amounts: dict[str, int]
    currency: str

    def to_dict(self) -> dict[str, Any]:
        return {"transaction_id": self.transaction_id, "created_at": self.created_at.isoformat(),
                "kind": self.kind, "project_id": self.project_id, "answer_id": self.answer_id,
                "memo": self.memo, "amounts_minor": self.amounts, "currency": self.currency}


@dataclass(frozen=True, slots=True)
class Statement:
    """A worker's money over [since, until): balances at each end and the movements, in
    time order (all of them, or one page: ``line_count`` is the period's, and
    ``next_after`` the cursor of the next page, None on the last)."""

    worker_id: int
    since: datetime | None
    until: datetime | None
    opening: dict[str, dict[str, int]]  # currency -> account -> amount
    closing: dict[str, dict[str, int]]
    lines: list[StatementLine]
    line_count: int = 0
    next_after: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"worker_id": self.worker_id,
                "since": None if self.since is None else self.since.isoformat(),
                "until": None if self.until is None else self.until.isoformat(),
                "opening_minor": self.opening, "closing_minor": self.closing,
                "line_count": self.line_count, "next_after": self.next_after,
                "lines": [line.to_dict() for line in self.lines]}


# The most lines a page may ask for; a whole statement is read in pages of this size.
MAX_STATEMENT_PAGE = 5000


def _lines(rows: list[statement_store.LineRow]) -> list[StatementLine]:
    """One line per transaction from its rows (one per posting of the worker)."""
    made: list[StatementLine] = []
    last = None
    for tx_id, at, kind, project_id, answer_id, memo, account, amount, currency in rows:
        if tx_id != last:
            last = tx_id
            made.append(StatementLine(tx_id, at, kind, project_id, answer_id, memo, {},
                                      currency or ""))
        if account is not None and amount is not None:
            amounts = made[-1].amounts
            amounts[account] = amounts.get(account, 0) + amount
    return made


def statement(
    db: Database,
    *,
    actor: User,
    worker_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    after: int | None = None,
    newest_first: bool = False,
) -> Statement:
    """The worker's statement for a period (their own, or anyone's for an admin).

    The balances come from sums in SQL over the ledger, whatever the page. Without
    ``limit`` every line of the period; with it, at most ``limit`` lines after the line
    (transaction id) ``after``, oldest first or ``newest_first``. One snapshot: the balances,
    the count and the lines agree.
    """
    if not _may_see_worker(actor, worker_id):
        raise PermissionDenied("you can see only your own statements")
    if since is not None and until is not None and until <= since:
        raise InputInvalid.on_field("until", "the period must end after it starts")
    if limit is not None and (isinstance(limit, bool) or not 1 <= limit <= MAX_STATEMENT_PAGE):
        raise InputInvalid.on_field("limit", f"limit must be 1 to {MAX_STATEMENT_PAGE} lines")
    opening: dict[str, dict[str, int]] = {}
    closing: dict[str, dict[str, int]] = {}
    with db.read(snapshot=True) as conn:
        cursor = None
        if after is not None:
            at = statement_store.position(conn, worker_id, after)
            if at is None or (since is not None and at < since) or (
                until is not None and at >= until
            ):
                raise InputInvalid.on_field(
                    "after", "after must be the transaction_id of a line of this statement "
                    "(the previous page's next_after)")
            cursor = (at, after)
        for account, currency, had, before, moved in statement_store.balances(
            conn, worker_id, since, until
        ):
            if had:
                opening.setdefault(currency, {})[account] = before
            closing.setdefault(currency, {})[account] = before + moved
        count = statement_store.line_count(conn, worker_id, since, until)
        lines: list[StatementLine] = []
        while True:
            want = MAX_STATEMENT_PAGE if limit is None else limit + 1 - len(lines)
            page = _lines(statement_store.lines(
                conn, worker_id, since, until, limit=want, after=cursor,
                newest_first=newest_first))
            lines += page
            if limit is not None or len(page) < want:
                break
            cursor = (page[-1].created_at, page[-1].transaction_id)
    next_after = None
    if limit is not None and len(lines) > limit:
        del lines[limit:]
        next_after = lines[-1].transaction_id
    return Statement(worker_id, since, until, opening, closing, lines, count, next_after)
