"""Payout batches (approved money becomes paid, and a CSV file for the payment provider)
and the ledger's export for accountants (Beancount).

A batch has a name chosen by the operator (``2026-12``). Paying it writes, for every worker
with approved money in the currency, one transaction ``payout:{batch}:{worker}:{currency}``
(approved −x, paid +x) and then writes the file from the batch's transactions. Running the
same batch again writes no transaction and the same file: a payout crashed half-way is
finished by running it again. Batches are taken one at a time (a row lock on PostgreSQL),
so two batches never pay the same approved money.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from expertloop.domain import LedgerAccount, LedgerKind, Role, User
from expertloop.domain.money import CURRENCIES, MoneyError, check_currency, format_minor
from expertloop.errors import InputInvalid, PermissionDenied
from expertloop.store import Database, audit
from expertloop.store import pay as pay_store
from expertloop.store import pay_payouts as payout_store
from expertloop.store.pay import Entry, Leg

__all__ = [
    "PAYOUT_COLUMNS",
    "Payout",
    "beancount_lines",
    "pay_batch",
    "payout_pseudonym",
    "set_payout_reference",
    "write_beancount",
]

PAYOUT_COLUMNS = ("pseudonym", "account_reference", "amount", "currency")
_BATCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def payout_pseudonym(secret_key: str, worker_id: int) -> str:
    """``p-`` and 12 hex digits of an HMAC of the worker's id: stable across batches, not
    reversible without the server's secret key."""
    digest = hmac.new(secret_key.encode(), f"payout:{worker_id}".encode(), hashlib.sha256)
    return "p-" + digest.hexdigest()[:12]


def _admin(actor: User) -> None:
    if actor.role is not Role.ADMIN:
        raise PermissionDenied("only an admin can pay workers or export the ledger")


def set_payout_reference(db: Database, *, actor: User, worker_id: int, reference: str) -> None:
    """Where the worker's payouts go (an IBAN, an e-mail, a vendor id): the worker's own, or
    an admin's. Audited."""
    if actor.id != worker_id and actor.role is not Role.ADMIN:
        raise PermissionDenied("you can set only your own payout account")
    reference = reference.strip()
    if not 1 <= len(reference) <= 200 or any(ord(c) < 32 for c in reference):
        raise InputInvalid.on_field("reference", "1 to 200 printable characters")
    now = db.clock.now()
    with db.write() as conn:
        payout_store.set_payout_reference(conn, worker_id, reference, now)
        audit.record_event(conn, action="pay.payout_account_set", actor_id=actor.id, now=now,
                           details={"worker_id": worker_id})


@dataclass(frozen=True, slots=True)
class Payout:
    batch: str
    currency: str
    workers: int
    total_minor: int
    newly_paid: int
    path: Path

    def to_dict(self) -> dict[str, Any]:
        return {"batch": self.batch, "currency": self.currency, "workers": self.workers,
                "total_minor": self.total_minor, "newly_paid": self.newly_paid,
                "file": str(self.path)}


def pay_batch(
    db: Database, *, actor: User, batch: str, currency: str, path: Path, secret_key: str
) -> Payout:
    """Pay every worker's approved money in ``currency`` as batch ``batch`` and write the
    payout file (CSV: pseudonym, account reference, amount, currency) to ``path``."""
    _admin(actor)
    if not _BATCH.match(batch):
        raise InputInvalid.on_field("batch", "1 to 64 letters, digits, '.', '_' or '-'")
    try:
        code = check_currency(currency)
    except MoneyError as exc:
        raise InputInvalid.on_field("currency", str(exc)) from None
    now = db.clock.now()
    with db.write() as conn:
        # One batch at a time: this row update holds a lock until the commit.
        pay_store.save_cursor(conn, "payouts", 0, None)
        pay_store.lock_cursor(conn, "payouts")
        entries = [
            Entry(
                f"payout:{batch}:{worker_id}:{code}", LedgerKind.PAYOUT,
                (Leg(LedgerAccount.APPROVED, -amount, code, None, worker_id),
                 Leg(LedgerAccount.PAID, amount, code, None, worker_id)),
                worker_id=worker_id, created_by=actor.id, memo=f"payout batch {batch}",
            )
            for worker_id, amount in payout_store.approved_balances(conn, code)
        ]
        written = pay_store.post_entries(conn, entries, now=now)
        paid = [row for row in payout_store.batch_payouts(conn, batch) if row[2] == code]
        references = payout_store.payout_references(conn, [w for w, _, _ in paid])
        if written:
            audit.record_event(conn, action="pay.payout", actor_id=actor.id, now=now,
                               details={"batch": batch, "currency": code,
                                        "workers": len(written),
                                        "total_minor": sum(e.legs[1].amount for e in written)})
    temporary = path.with_name(path.name + ".partial")
    with temporary.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.writer(sink)
        writer.writerow(PAYOUT_COLUMNS)
        for worker_id, amount, cur in paid:
            writer.writerow([payout_pseudonym(secret_key, worker_id),
                             references.get(worker_id, ""), format_minor(amount, cur), cur])
    os.replace(temporary, path)
    return Payout(batch, code, len(paid), sum(a for _, a, _ in paid), len(written), path)


_ACCOUNTS = {
    LedgerAccount.BUDGET.value: "Equity:Projects:P{project}:Budget",
    LedgerAccount.PENDING.value: "Liabilities:Workers:W{worker}:Pending",
    LedgerAccount.APPROVED.value: "Liabilities:Workers:W{worker}:Approved",
    LedgerAccount.PAID.value: "Liabilities:Workers:W{worker}:Paid",
}


def _account(account: str, project_id: int | None, worker_id: int | None) -> str:
    return _ACCOUNTS[account].format(project=project_id or 0, worker=worker_id or 0)


def beancount_lines(db: Database, *, actor: User) -> Iterator[str]:
    """The whole ledger as Beancount: an ``open`` for each account, then every transaction
    (date, kind, key, one posting per leg in decimal units of its currency)."""
    _admin(actor)
    with db.read() as conn:
        opened: set[str] = set()
        yield "; expertloop pay ledger (amounts in each currency's units)"
        for code in sorted(CURRENCIES):
            yield f'1970-01-01 commodity {code}'
        for tx in pay_store.transactions(conn):
            names = [_account(a, p, w) for a, p, w, _amount, _cur in tx.postings]
            for name in names:
                if name not in opened:
                    opened.add(name)
                    yield f"1970-01-01 open {name}"
            memo = tx.memo.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
            yield f'{tx.created_at.date().isoformat()} * "{tx.kind}" "{memo}"'
            yield f'  key: "{tx.key}"'
            for name, (_a, _p, _w, amount, cur) in zip(names, tx.postings, strict=True):
                yield f"  {name}  {format_minor(amount, cur)} {cur}"
            yield ""


def write_beancount(db: Database, *, actor: User, sink: TextIO) -> int:
    """Write the ledger as Beancount to ``sink``; the number of lines written."""
    count = 0
    for line in beancount_lines(db, actor=actor):
        sink.write(line + "\n")
        count += 1
    return count
