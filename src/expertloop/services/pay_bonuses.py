"""Bonus rules: a project's manager pays a bonus to each worker whose measure over a
calendar week or month (UTC) reaches a threshold on enough observations (``docs/pay.md``,
Bonus rules). The measures:

- ``review_acceptance``: of the reviews of their answers decided in the period, the share
  that accepted or fixed the answer;
- ``gold_accuracy``: of their answers created in the period on gold items (that the task
  type can score), the share that match the gold;
- ``consensus_agreement``: of their answers created in the period whose item has a line in
  the project's consensus snapshot when the period is paid, the share that give the
  consensus on the task type's primary question (as My work compares them).

The ``pay.bonus`` job pays each closed period of each rule once: one transaction per
qualifying worker under the key ``bonus:{rule}:{worker}:{period}`` (budget to the worker's
approved money), written with the rule's cursor (``bonus:{rule}``) in one database
transaction. A period counts the reviews decided in it from the rule's creation on; it is
paid once it has been closed for the crediting grace period. The reconciliation
recomputes every paid period's bonuses from the rules and the reviews and gold
(:func:`expected_entries`); the consensus moves on after a period is paid (and its old
snapshots are deleted), so what agreement measured is recorded with the bonuses
(``pay_bonus_measures``, with the snapshot's generation) and the reconciliation pays from
that record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from expertloop.domain import BonusMetric, BonusPeriod, LedgerAccount, LedgerKind, User
from expertloop.errors import InputInvalid, NotFound
from expertloop.jobs import JobContext, job_kind
from expertloop.services.my_work import primary_key
from expertloop.services.pay import (
    CREDIT_GRACE_SECONDS,
    MAX_AMOUNT_MINOR,
    _currency,
    managed_project,
)
from expertloop.store import Database, audit
from expertloop.store import consensus as consensus_store
from expertloop.store import pay as pay_store
from expertloop.store import pay_bonuses as bonus_store
from expertloop.store import pay_budgets as budget_store
from expertloop.store.pay import Entry, Leg
from expertloop.store.pay_bonuses import BonusRuleRow, MeasureRow
from expertloop.tasks import get_task_type

__all__ = [
    "BONUS_KIND",
    "add_rule",
    "disable_rule",
    "expected_entries",
    "list_rules",
    "measure",
    "pay_bonuses",
    "periods",
]

log = logging.getLogger("expertloop.pay")

BONUS_KIND = "pay.bonus"
MAX_MIN_COUNT = 1_000_000


def _start(period: str, when: datetime) -> datetime:
    day = datetime(when.year, when.month, when.day)
    if period == BonusPeriod.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next(period: str, start: datetime) -> datetime:
    if period == BonusPeriod.WEEK:
        return start + timedelta(days=7)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def _label(period: str, start: datetime) -> str:
    if period == BonusPeriod.WEEK:
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{start.year}-{start.month:02d}"


def periods(rule: BonusRuleRow, until: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The rule's periods (start, end) that ended by ``until`` (and, for a disabled rule,
    by the time it was disabled), oldest first."""
    limit = until if rule.disabled_at is None else min(until, rule.disabled_at)
    start = _start(rule.period, rule.created_at)
    while (end := _next(rule.period, start)) <= limit:
        yield start, end
        start = end


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputInvalid.on_field(field, f"an integer from {low} to {high}")
    return value


def add_rule(
    db: Database, *, actor: User, project_id: int, metric: str, period: str,
    threshold_bp: int, min_count: int, amount_minor: int, currency: str,
) -> BonusRuleRow:
    """A new bonus rule for the project, paying from the current period on."""
    try:
        metric_value = BonusMetric(metric).value
    except ValueError:
        raise InputInvalid.on_field(
            "metric", f"a bonus rule's metric: one of "
                      f"{', '.join(m.value for m in BonusMetric)}") from None
    try:
        period_value = BonusPeriod(period).value
    except ValueError:
        raise InputInvalid.on_field("period", "a bonus rule's period: week or month") from None
    now = db.clock.now()
    values: dict[str, Any] = {
        "project_id": project_id, "metric": metric_value, "period": period_value,
        "threshold_bp": _int(threshold_bp, "threshold_bp", 0, 10_000),
        "min_count": _int(min_count, "min_count", 1, MAX_MIN_COUNT),
        "amount_minor": _int(amount_minor, "amount_minor", 0, MAX_AMOUNT_MINOR),
        "currency": _currency(currency), "created_by": actor.id,
        "created_at": now, "disabled_at": None,
    }
    with db.write() as conn:
        managed_project(conn, actor, project_id)
        found = budget_store.budget(conn, project_id)
        if found is not None and found.currency != values["currency"]:
            raise InputInvalid.on_field(
                "currency", f"the project's budget is in {found.currency}; pay in it")
        rule_id = bonus_store.insert_rule(conn, values)
        audit.record_event(conn, action="pay.bonus_rule_added", actor_id=actor.id,
                           project_id=project_id, now=now,
                           after={"rule_id": rule_id, **{k: v for k, v in values.items()
                                                          if k not in ("created_at",)}})
        return next(r for r in bonus_store.rules(conn, project_id) if r.id == rule_id)


def list_rules(db: Database, *, actor: User, project_id: int) -> list[BonusRuleRow]:
    with db.read() as conn:
        managed_project(conn, actor, project_id)
        return bonus_store.rules(conn, project_id)


def disable_rule(db: Database, *, actor: User, project_id: int, rule_id: int) -> None:
    """Stop a rule: periods ending after now are not paid (those paid stay paid)."""
    now = db.clock.now()
    with db.write() as conn:
        managed_project(conn, actor, project_id)
        if not bonus_store.disable_rule(conn, project_id, rule_id, now):
            raise NotFound(f"no enabled bonus rule {rule_id} in project {project_id}")
        audit.record_event(conn, action="pay.bonus_rule_disabled", actor_id=actor.id,
                           project_id=project_id, now=now, after={"rule_id": rule_id})


Counts = dict[int, tuple[int, int]]  # worker -> (observations, hits)

_WHAT = {
    BonusMetric.REVIEW_ACCEPTANCE.value: "reviews accepted",
    BonusMetric.GOLD_ACCURACY.value: "gold answers correct",
    BonusMetric.CONSENSUS_AGREEMENT.value: "answers agreeing with the consensus",
}


def _add(counts: Counts, worker_id: int, hit: bool) -> None:
    n, k = counts.get(worker_id, (0, 0))
    counts[worker_id] = (n + 1, k + int(hit))


def measure(
    conn: Connection, rule: BonusRuleRow, start: datetime, end: datetime
) -> tuple[Counts, int | None]:
    """Each worker's (observations, hits) of the rule's metric over [start, end) (from the
    rule's creation on), and the consensus generation compared with (agreement only)."""
    since = max(start, rule.created_at)
    if rule.metric == BonusMetric.REVIEW_ACCEPTANCE:
        return bonus_store.review_acceptance(conn, rule.project_id, since, end), None
    task_type, config = bonus_store.project_task(conn, rule.project_id)
    task = get_task_type(task_type)
    counts: Counts = {}
    if rule.metric == BonusMetric.GOLD_ACCURACY:
        for page in bonus_store.answers_with_gold(conn, rule.project_id, since, end):
            for worker_id, value, gold in page:
                scored = task.matches_gold(value, gold, config=config)
                if scored is not None:
                    _add(counts, worker_id, bool(scored))
        return counts, None
    snapshot = consensus_store.load_snapshot(conn, rule.project_id, False)
    if snapshot is None:
        return counts, None
    for page in bonus_store.answers_with_consensus(
        conn, rule.project_id, snapshot.generation, since, end
    ):
        for worker_id, value, line in page:
            expected = primary_key(task, line.get("consensus"), config)
            given = primary_key(task, value, config)
            if expected is not None and given is not None:
                _add(counts, worker_id, given == expected)
    return counts, snapshot.generation


def _entries(rule: BonusRuleRow, start: datetime, counts: Counts) -> list[Entry]:
    """The bonuses one closed period of a rule pays on these counts."""
    label = _label(rule.period, start)
    entries = []
    for worker_id, (counted, hits) in sorted(counts.items()):
        # hits / counted >= threshold, in integers.
        if counted < rule.min_count or hits * 10_000 < rule.threshold_bp * counted:
            continue
        if rule.amount_minor == 0:
            continue
        entries.append(Entry(
            f"bonus:{rule.id}:{worker_id}:{label}", LedgerKind.ADJUSTMENT,
            (Leg(LedgerAccount.BUDGET, -rule.amount_minor, rule.currency, rule.project_id,
                 None),
             Leg(LedgerAccount.APPROVED, rule.amount_minor, rule.currency, rule.project_id,
                 worker_id)),
            project_id=rule.project_id, worker_id=worker_id,
            memo=f"bonus rule {rule.id}, {label}: {hits} of {counted} "
                 f"{_WHAT.get(rule.metric, rule.metric)}",
            meta={"rule_id": rule.id, "period": label, "metric": rule.metric},
        ))
    return entries


def _recorded(rule: BonusRuleRow) -> bool:
    """Whether the rule's measures are recorded when paid (they rest on what changes)."""
    return rule.metric == BonusMetric.CONSENSUS_AGREEMENT


def pay_bonuses(db: Database, *, grace_seconds: float = CREDIT_GRACE_SECONDS) -> int:
    """Pay every rule's closed periods not paid yet; the number of bonuses written.
    Idempotent (unique keys; the cursor moves with the period's transactions)."""
    ripe = db.clock.now() - timedelta(seconds=grace_seconds)
    with db.read() as conn:
        all_rules = bonus_store.rules(conn)
        paid_until = {r.id: pay_store.cursor(conn, f"bonus:{r.id}")[1] for r in all_rules}
    written = 0
    for rule in all_rules:
        for start, end in periods(rule, ripe):
            done = paid_until[rule.id]
            if done is not None and end <= done:
                continue
            # Measured before the write transaction (SQLite's lock is not held for it); a
            # closed period's facts no longer change, and only one pass writes (the cursor).
            with db.read() as conn:
                counts, generation = measure(conn, rule, start, end)
            with db.write() as conn:
                pay_store.lock_cursor(conn, f"bonus:{rule.id}")
                _, done_until = pay_store.cursor(conn, f"bonus:{rule.id}")
                if done_until is not None and end <= done_until:
                    continue  # another pass paid it meanwhile
                now = db.clock.now()
                fresh = pay_store.post_entries(conn, _entries(rule, start, counts), now=now)
                if _recorded(rule):
                    label = _label(rule.period, start)
                    bonus_store.insert_measures(conn, [
                        MeasureRow(rule.id, label, w, n, k, generation, now)
                        for w, (n, k) in sorted(counts.items())
                    ])
                spend = sum(e.legs[1].amount for e in fresh)
                if spend:
                    budget_store.add_spend(conn, {rule.project_id: spend})
                pay_store.save_cursor(conn, f"bonus:{rule.id}", rule.id, end)
                written += len(fresh)
    return written


def expected_entries(conn: Connection) -> list[Entry]:
    """Every bonus the paid periods call for (up to each rule's cursor), recomputed from
    the facts (reviews, gold), or from the measures recorded when paid (agreement)."""
    entries: list[Entry] = []
    for rule in bonus_store.rules(conn):
        _, done_until = pay_store.cursor(conn, f"bonus:{rule.id}")
        if done_until is None:
            continue
        for start, end in periods(rule, done_until):
            if _recorded(rule):
                counts = {m.worker_id: (m.counted, m.hits) for m in bonus_store.measures(
                    conn, rule.id, _label(rule.period, start))}
            else:
                counts, _ = measure(conn, rule, start, end)
            entries.extend(_entries(rule, start, counts))
    return entries


@job_kind(BONUS_KIND, max_attempts=1, every=lambda _settings: 300.0)
def bonus_job(context: JobContext) -> dict[str, Any]:
    """The periodic bonus pass."""
    written = pay_bonuses(context.database)
    context.advance(written)
    return {"bonuses": written}
