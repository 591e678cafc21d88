"""Pay: project rates, and crediting accepted work in the ledger exactly once.

- A project's rate (:func:`set_rate`) is a piece rate per answer or an hourly rate over the
  answer's time on task (capped per item). Rates are never edited: a new rate applies to
  answers created from its ``effective_from`` on (now or later, never the past), so an
  answer's pay is a function of the answer and the rates, and the reconciliation
  (``services/pay_ledger.py``) recomputes it.
- Crediting happens off the submit path, in the ``pay.credit`` job (periodic, every
  ``pay_sweep_seconds``, and ``expertloop pay sweep``): it reads answers by id and decided
  reviews by decision time from cursors, and writes one transaction per effect under a
  unique key (``answer:{id}:credit``, ``answer:{id}:approval``, ``answer:{id}:reversal``).
  A retried, replayed, concurrent or killed sweep writes each effect once; a killed server
  loses nothing, because the answers are the source and the cursor only moves past what is
  written. It reads only answers and decisions older than ``CREDIT_GRACE_SECONDS``, so a
  transaction still committing when the sweep passes cannot be skipped.
- States: a credited answer's pay is *pending*; an accepted or fixed review *approves* it;
  a rejected review *reverses* it (the money goes back to the project's budget); a payout
  moves *approved* to *paid*. With a review window on the rate, pay that no review decided
  within the window is approved when it ends (by the same pass, per project from a cursor
  ``approvals:{project}``); a rejection after that reverses the approved money. Which of
  these happened is a function of the answer's time, the window and the decision's time
  (:func:`answer_entries`), so the passes, concurrent or repeated, agree, and the
  reconciliation recomputes it.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from expertloop.domain import (
    LedgerAccount,
    LedgerKind,
    PayRateKind,
    Project,
    ReviewOutcome,
    User,
)
from expertloop.domain.money import MoneyError, check_currency, hourly_amount
from expertloop.domain.policies import can_read_gold
from expertloop.errors import InputInvalid, PermissionDenied
from expertloop.jobs import JobContext, job_kind
from expertloop.services.pay_premiums import check_premiums, premium_amount, resolve_premiums
from expertloop.services.projects import load_project
from expertloop.store import Database, audit
from expertloop.store import pay as pay_store
from expertloop.store import pay_budgets as budget_store
from expertloop.store import pay_premiums as premium_store
from expertloop.store.pay import AnswerFacts, Entry, Leg, RateRow

__all__ = [
    "CREDIT_GRACE_SECONDS",
    "CREDIT_KIND",
    "MAX_AMOUNT_MINOR",
    "MAX_REVIEW_WINDOW_SECONDS",
    "RateBook",
    "SweepResult",
    "answer_entries",
    "credit",
    "list_rates",
    "managed_project",
    "set_rate",
    "unit_cost",
    "window_end",
]

log = logging.getLogger("expertloop.pay")

CREDIT_KIND = "pay.credit"
CREDIT_GRACE_SECONDS = 10
# A trillion minor units: far above any real rate or budget, far below 64-bit overflow.
MAX_AMOUNT_MINOR = 10**12
MAX_REVIEW_WINDOW_SECONDS = 366 * 86400
_BATCH = 2000


def managed_project(conn: Connection, actor: User, project_id: int) -> Project:
    project = load_project(conn, actor=actor, project_id=project_id)
    if not can_read_gold(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers can see or change its pay")
    return project


def _amount(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputInvalid.on_field(field, "give an integer amount in minor units (cents)")
    if not 0 <= value <= MAX_AMOUNT_MINOR:
        raise InputInvalid.on_field(field, f"must be between 0 and {MAX_AMOUNT_MINOR}")
    return value


def _currency(value: str) -> str:
    try:
        return check_currency(value)
    except MoneyError as exc:
        raise InputInvalid.on_field("currency", str(exc)) from None


def set_rate(
    db: Database,
    *,
    actor: User,
    project_id: int,
    kind: str,
    amount_minor: int,
    currency: str,
    max_seconds_per_item: int | None = None,
    effective_from: datetime | None = None,
    premiums: Sequence[Mapping[str, Any]] = (),
    review_window_seconds: int | None = None,
) -> RateRow:
    """Give the project a new rate, from ``effective_from`` (default now; never the past),
    with its premiums (see :mod:`expertloop.services.pay_premiums`) and its review window
    (pending pay not rejected within it is approved; ``None``: only a review approves)."""

    try:
        rate_kind = PayRateKind(kind)
    except ValueError:
        raise InputInvalid.on_field(
            "kind", f"unknown rate kind {kind!r}; use piece or hourly"
        ) from None
    amount = _amount(amount_minor, "amount_minor")
    code = _currency(currency)
    if max_seconds_per_item is not None and not 1 <= max_seconds_per_item <= 7 * 86400:
        raise InputInvalid.on_field("max_seconds_per_item", "must be between 1 and 604800")
    if rate_kind is PayRateKind.PIECE and max_seconds_per_item is not None:
        raise InputInvalid.on_field("max_seconds_per_item", "only an hourly rate has a cap")
    if review_window_seconds is not None and (
        isinstance(review_window_seconds, bool) or not isinstance(review_window_seconds, int)
        or not 1 <= review_window_seconds <= MAX_REVIEW_WINDOW_SECONDS
    ):
        raise InputInvalid.on_field(
            "review_window_seconds", f"an integer from 1 to {MAX_REVIEW_WINDOW_SECONDS}")
    premium_rows = check_premiums(premiums, MAX_AMOUNT_MINOR)
    now = db.clock.now()
    start = now if effective_from is None else effective_from
    if start < now:
        raise InputInvalid.on_field(
            "effective_from", "a rate cannot start in the past (answers already paid keep theirs)"
        )
    with db.write() as conn:
        managed_project(conn, actor, project_id)
        found = budget_store.budget(conn, project_id)
        if found is not None and found.currency != code:
            raise InputInvalid.on_field(
                "currency", f"the project's budget is in {found.currency}; pay in it"
            )
        rate_id = pay_store.insert_rate(
            conn, project_id=project_id, kind=rate_kind.value, amount_minor=amount,
            currency=code, max_seconds_per_item=max_seconds_per_item, effective_from=start,
            created_by=actor.id, now=now, review_window_seconds=review_window_seconds,
        )
        premium_store.insert_premiums(conn, rate_id, premium_rows)
        if start == now:  # a new price changes what the budget can afford
            from expertloop.services.pay_budget import _refresh

            _refresh(conn, project_id, now)
        audit.record_event(
            conn, action="pay.rate_set", actor_id=actor.id, project_id=project_id, now=now,
            after={"rate_id": rate_id, "kind": rate_kind.value, "amount_minor": amount,
                   "currency": code, "max_seconds_per_item": max_seconds_per_item,
                   "effective_from": start.isoformat(),
                   "review_window_seconds": review_window_seconds,
                   "premiums": [{k: v for k, v in p.items() if v is not None}
                                for p in premium_rows]},
        )
        return next(r for r in pay_store.rates(conn, [project_id]) if r.id == rate_id)


def list_rates(db: Database, *, actor: User, project_id: int) -> list[RateRow]:
    with db.read() as conn:
        managed_project(conn, actor, project_id)
        return pay_store.rates(conn, [project_id])


class RateBook:
    """Every project's rates in time order: which rate an answer created at a time earns."""

    def __init__(self, rates: Iterable[RateRow]) -> None:
        self._by_project: dict[int, list[RateRow]] = {}
        for rate in rates:
            self._by_project.setdefault(rate.project_id, []).append(rate)
        self._starts = {
            p: [(r.effective_from, r.id) for r in rows] for p, rows in self._by_project.items()
        }

    @property
    def project_ids(self) -> list[int]:
        return sorted(self._by_project)

    def with_premiums(self, conn: Connection, rows: Sequence[AnswerFacts]) -> list[AnswerFacts]:
        """The rows with the premiums their credit uses (recorded, or the worker's now)."""
        return resolve_premiums(conn, rows, lambda r: self.rate_at(r.project_id, r.created_at))

    def rate_at(self, project_id: int, when: datetime) -> RateRow | None:
        starts = self._starts.get(project_id)
        if not starts:
            return None
        # The newest rate that started at or before ``when`` (ties: the later row).
        index = bisect.bisect_right(starts, (when, float("inf"))) - 1
        return None if index < 0 else self._by_project[project_id][index]


def answer_pay(rate: RateRow, duration_ms: int) -> int:
    """What an answer earns at ``rate``: the piece rate, or the hourly rate over its time
    on task capped at the rate's maximum (rounded half up, see ``domain/money.py``)."""
    if rate.kind == PayRateKind.PIECE:
        return rate.amount_minor
    cap = None if rate.max_seconds_per_item is None else rate.max_seconds_per_item * 1000
    return hourly_amount(rate.amount_minor, duration_ms, cap_ms=cap)


def unit_cost(rate: RateRow, lease_seconds: int) -> int:
    """The expected cost of one live lease: the piece rate, or the hourly rate over the
    lease's length (or the cap, if shorter)."""
    if rate.kind == PayRateKind.PIECE:
        return rate.amount_minor
    seconds = lease_seconds
    if rate.max_seconds_per_item is not None:
        seconds = min(seconds, rate.max_seconds_per_item)
    return hourly_amount(rate.amount_minor, seconds * 1000)


def window_end(rate: RateRow, created_at: datetime) -> datetime | None:
    """When an answer's review window ends (``None``: the rate has none)."""
    if rate.review_window_seconds is None:
        return None
    return created_at + timedelta(seconds=rate.review_window_seconds)


def answer_entries(
    book: RateBook, facts: AnswerFacts, *, as_of: datetime | None = None
) -> list[Entry]:
    """The ledger transactions an answer (and its review's decision, if any) calls for.

    A decision made within the review window (or under a rate without one) approves the
    pending pay (accepted, fixed) or reverses it (rejected). Otherwise, once the window has
    ended (by ``as_of``, or before the decision, or as the ledger already records), the
    pay is approved (the key is the same as a review's approval: an answer is approved
    once), and a later rejection reverses the approved money.
    """
    rate = book.rate_at(facts.project_id, facts.created_at)
    if rate is None:
        return []
    used = facts.premium_ids or ()
    amount = premium_amount(rate, answer_pay(rate, facts.duration_ms), used)
    cur, p, w = rate.currency, facts.project_id, facts.worker_id
    base: dict[str, Any] = {"project_id": p, "worker_id": w, "answer_id": facts.answer_id}
    entries = [
        Entry(
            f"answer:{facts.answer_id}:credit", LedgerKind.CREDIT,
            (Leg(LedgerAccount.BUDGET, -amount, cur, p, None),
             Leg(LedgerAccount.PENDING, amount, cur, p, w)),
            memo=f"rate {rate.id}", meta={"rate_id": rate.id, "premium_ids": list(used)},
            **base,
        )
    ]
    ends = window_end(rate, facts.created_at)
    decided = facts.outcome is not None and facts.decided_at is not None
    if decided and (ends is None or facts.decided_at < ends):  # type: ignore[operator]
        if facts.outcome == ReviewOutcome.REJECTED:
            entries.append(Entry(
                f"answer:{facts.answer_id}:reversal", LedgerKind.REVERSAL,
                (Leg(LedgerAccount.PENDING, -amount, cur, p, w),
                 Leg(LedgerAccount.BUDGET, amount, cur, p, None)),
                review_id=facts.review_id, memo="rejected in review", **base,
            ))
        else:  # accepted, or fixed: the worker keeps their pay
            entries.append(Entry(
                f"answer:{facts.answer_id}:approval", LedgerKind.APPROVAL,
                (Leg(LedgerAccount.PENDING, -amount, cur, p, w),
                 Leg(LedgerAccount.APPROVED, amount, cur, p, w)),
                review_id=facts.review_id, memo=f"{facts.outcome} in review", **base,
            ))
        return entries
    if ends is None:
        return entries
    if not (decided or facts.auto_approved or (as_of is not None and ends <= as_of)):
        return entries  # the window is still open
    entries.append(Entry(
        f"answer:{facts.answer_id}:approval", LedgerKind.APPROVAL,
        (Leg(LedgerAccount.PENDING, -amount, cur, p, w),
         Leg(LedgerAccount.APPROVED, amount, cur, p, w)),
        memo="review window passed", meta={"window_ended_at": ends.isoformat()}, **base,
    ))
    if decided and facts.outcome == ReviewOutcome.REJECTED:
        entries.append(Entry(
            f"answer:{facts.answer_id}:reversal", LedgerKind.REVERSAL,
            (Leg(LedgerAccount.APPROVED, -amount, cur, p, w),
             Leg(LedgerAccount.BUDGET, amount, cur, p, None)),
            review_id=facts.review_id, memo="rejected in review after its window", **base,
        ))
    return entries


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one crediting pass wrote: transactions by kind, and budgets that stopped."""

    credits: int = 0
    approvals: int = 0
    reversals: int = 0
    budgets_stopped: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"credits": self.credits, "approvals": self.approvals,
                "reversals": self.reversals, "budgets_stopped": list(self.budgets_stopped)}


def _post(conn: Connection, entries: Sequence[Entry], now: datetime) -> dict[str, int]:
    written = pay_store.post_entries(conn, entries, now=now)
    counts: dict[str, int] = {}
    spend: dict[int, int] = {}
    for entry in written:
        counts[entry.kind.value] = counts.get(entry.kind.value, 0) + 1
        for leg in entry.legs:
            if leg.account is LedgerAccount.BUDGET and leg.project_id is not None:
                spend[leg.project_id] = spend.get(leg.project_id, 0) - leg.amount
    if spend:
        budget_store.add_spend(conn, spend)
    return counts


def _sweep_answers(db: Database, ripe: datetime, batch: int) -> dict[str, int]:
    totals: dict[str, int] = {}
    while True:
        with db.write() as conn:
            last_id, _ = pay_store.cursor(conn, "answers")
            rows = pay_store.answers_after(conn, last_id, batch)
            # Only answers older than the grace period: younger ones wait for the next pass.
            ready = rows[: next((i for i, r in enumerate(rows) if r.created_at > ripe),
                                len(rows))]
            if not ready:
                return totals
            book = RateBook(pay_store.rates(conn, sorted({r.project_id for r in ready})))
            ready = book.with_premiums(conn, ready)
            entries = [e for r in ready for e in answer_entries(book, r)]
            for kind, n in _post(conn, entries, db.clock.now()).items():
                totals[kind] = totals.get(kind, 0) + n
            pay_store.save_cursor(conn, "answers", ready[-1].answer_id, None)
        if len(ready) < batch:
            return totals


def _sweep_reviews(db: Database, ripe: datetime, batch: int) -> dict[str, int]:
    totals: dict[str, int] = {}
    while True:
        with db.write() as conn:
            last_id, last_at = pay_store.cursor(conn, "reviews")
            rows = pay_store.decided_reviews_after(conn, last_at, last_id, batch)
            ready = rows[: next((i for i, r in enumerate(rows)
                                 if r.decided_at is None or r.decided_at > ripe), len(rows))]
            if not ready:
                return totals
            book = RateBook(pay_store.rates(conn, sorted({r.project_id for r in ready})))
            ready = book.with_premiums(conn, ready)
            # The credit comes with the decision: a decision never waits for the answers' pass.
            entries = [e for r in ready for e in answer_entries(book, r)]
            for kind, n in _post(conn, entries, db.clock.now()).items():
                totals[kind] = totals.get(kind, 0) + n
            last = ready[-1]
            assert last.review_id is not None
            pay_store.save_cursor(conn, "reviews", last.review_id, last.decided_at)
        if len(ready) < batch:
            return totals


def _sweep_windows(db: Database, ripe: datetime, batch: int) -> dict[str, int]:
    """Approve the pay of answers whose review window ended by ``ripe``, project by project
    (each from its cursor, in answer order, stopping at the first window still open)."""
    with db.read() as conn:
        projects = pay_store.projects_with_review_windows(conn)
    totals: dict[str, int] = {}
    for project_id in projects:
        name = f"approvals:{project_id}"
        while True:
            with db.write() as conn:
                last_id, _ = pay_store.cursor(conn, name)
                rows = pay_store.project_answers_after(conn, project_id, last_id, batch)
                book = RateBook(pay_store.rates(conn, [project_id]))
                ready: list[AnswerFacts] = []
                for row in rows:
                    rate = book.rate_at(project_id, row.created_at)
                    ends = None if rate is None else window_end(rate, row.created_at)
                    if row.created_at > ripe or (ends is not None and ends > ripe):
                        break  # this window (and, nearly always, those after it) is open
                    ready.append(row)
                if not ready:
                    break
                ready = book.with_premiums(conn, ready)
                entries = [e for r in ready for e in answer_entries(book, r, as_of=ripe)]
                for kind, n in _post(conn, entries, db.clock.now()).items():
                    totals[kind] = totals.get(kind, 0) + n
                pay_store.save_cursor(conn, name, ready[-1].answer_id, None)
            if len(ready) < batch:
                break
    return totals


def credit(
    db: Database, *, grace_seconds: float = CREDIT_GRACE_SECONDS, batch: int = _BATCH
) -> SweepResult:
    """One crediting pass: credit new answers, apply new review decisions, approve pay
    whose review window ended, then refresh the budgets (see
    :mod:`expertloop.services.pay_budget`). Idempotent, safe to run in several processes at
    once."""
    from expertloop.services.pay_budget import refresh_budgets

    ripe = db.clock.now() - timedelta(seconds=grace_seconds)
    counts = _sweep_answers(db, ripe, batch)
    for sweep in (_sweep_reviews, _sweep_windows):
        for kind, n in sweep(db, ripe, batch).items():
            counts[kind] = counts.get(kind, 0) + n
    stopped = refresh_budgets(db)
    return SweepResult(
        credits=counts.get(LedgerKind.CREDIT.value, 0),
        approvals=counts.get(LedgerKind.APPROVAL.value, 0),
        reversals=counts.get(LedgerKind.REVERSAL.value, 0),
        budgets_stopped=tuple(stopped),
    )


@job_kind(CREDIT_KIND, max_attempts=1, every=lambda settings: settings.pay_sweep_seconds)
def credit_job(context: JobContext) -> dict[str, Any]:
    """The periodic crediting pass."""
    result = credit(context.database)
    context.advance(result.credits + result.approvals + result.reversals)
    if result.budgets_stopped:
        log.warning("budgets reached, claims stopped in projects %s", result.budgets_stopped)
    return result.to_dict()
