"""Benchmark: workers' pay statements on a large ledger.

Writes a ledger straight to a fresh database (SQLite, or a scratch PostgreSQL database made
under ``EXPERTLOOP_BENCH_POSTGRES_URL`` and dropped afterwards): ``--workers`` workers with
``--lines`` transactions each, spread evenly over ``--months`` months, mixed as a crediting
pass writes them (credits; approvals and reversals of some; a monthly payout) plus other
workers' noise. Then times, through the services:

- every worker's statement over the whole ledger (``whole_*``: the old ``bench/pay.py``
  figure, all lines);
- every worker's statement of a month in the middle and of the last month (``middle_month_*``,
  ``last_month_*``: the **My pay** page's period), checking that each adds up;
- once paging is built, each month read page by page (``*_ms_per_page``, ``--page`` lines a
  page, checking that every line comes once) and its newest page (``*_first_page_ms``, what
  the page shows first).

Prints one JSON object. ``--profile`` prints the top of a cProfile of the whole statements
to stderr.

    python bench/pay_statements.py --workers 10 --lines 10000
    python bench/pay_statements.py --database postgresql
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import sys
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, text

from _scratch_db import scratch_database
from expertloop.domain import Role, User
from expertloop.services import pay_ledger
from expertloop.store import Database
from expertloop.store import pay as pay_store
from expertloop.store import tables as t

START = datetime(2025, 1, 1)
CHUNK = 20_000


def _ledger(workers: int, lines: int, months: int, noise: int,
            seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Transactions and postings: each worker's ``lines`` transactions, in time order."""
    rng = random.Random(seed)
    span = timedelta(days=30 * months)
    owners = list(range(1, workers + 1)) + [workers + 1 + k for k in range(noise)]
    per_owner = {w: lines if w <= workers else max(1, lines // 10) for w in owners}
    events: list[tuple[datetime, int]] = []
    for w, n in per_owner.items():
        events += [(START + span * (k + rng.random()) / n, w) for k in range(n)]
    events.sort()
    txs: list[dict[str, Any]] = []
    postings: list[dict[str, Any]] = []
    pending: dict[int, list[tuple[int, int]]] = {w: [] for w in owners}
    approved = dict.fromkeys(owners, 0)
    last_payout = dict.fromkeys(owners, START)
    project = 1
    for tx_id, (at, w) in enumerate(events, start=1):
        legs: list[tuple[str, int | None, int]]
        answer = None
        if at - last_payout[w] > timedelta(days=30) and approved[w] > 0:
            kind, memo, last_payout[w] = "payout", "payout batch", at
            legs = [("approved", w, -approved[w]), ("paid", w, approved[w])]
            approved[w] = 0
        elif pending[w] and rng.random() < 0.45:
            answer, amount = pending[w].pop(rng.randrange(len(pending[w])))
            if rng.random() < 0.85:
                kind, memo = "approval", "accepted in review"
                legs = [("pending", w, -amount), ("approved", w, amount)]
                approved[w] += amount
            else:
                kind, memo = "reversal", "rejected in review"
                legs = [("pending", w, -amount), ("budget", None, amount)]
        else:
            answer, amount = tx_id, rng.randint(1, 999)
            kind, memo = "credit", "rate 1"
            legs = [("budget", None, -amount), ("pending", w, amount)]
            pending[w].append((answer, amount))
        txs.append({"id": tx_id, "key": f"bench:{tx_id}", "kind": kind,
                    "project_id": None if kind == "payout" else project, "worker_id": w,
                    "answer_id": answer, "review_id": None, "created_by": None,
                    "created_at": at, "memo": memo, "meta": None})
        postings += [{"transaction_id": tx_id, "account": account,
                      "project_id": None if kind == "payout" else project,
                      "worker_id": owner, "amount": amount, "currency": "USD"}
                     for account, owner, amount in legs]
    return txs, postings


def _write(db: Database, txs: list[dict[str, Any]], postings: list[dict[str, Any]]) -> None:
    for start in range(0, len(txs), CHUNK):
        with db.write() as conn:
            conn.execute(insert(t.PayTransaction), txs[start:start + CHUNK])
    for start in range(0, len(postings), CHUNK):
        with db.write() as conn:
            conn.execute(insert(t.PayPosting), postings[start:start + CHUNK])
    if not db.is_sqlite:  # as autovacuum leaves an append-only table: all visible, analysed
        with db.statements() as conn:
            conn.execute(text("VACUUM ANALYZE"))


def _pages(db: Database, admin: User, worker: int, since: datetime, until: datetime,
           size: int) -> tuple[int, int]:
    """Reads a period page by page: (lines, pages)."""
    seen: set[int] = set()
    after: int | None = None
    pages = 0
    while True:
        got = pay_ledger.statement(db, actor=admin, worker_id=worker, since=since,
                                   until=until, limit=size, after=after)
        pages += 1
        for line in got.lines:
            assert line.transaction_id not in seen, "a line came twice"
            seen.add(line.transaction_id)
        after = got.next_after
        if after is None:
            return len(seen), pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--lines", type=int, default=10_000, help="transactions per worker")
    parser.add_argument("--months", type=int, default=10)
    parser.add_argument("--noise", type=int, default=20,
                        help="other workers, each with a tenth of --lines")
    parser.add_argument("--page", type=int, default=200, help="lines per page (paged read)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    with scratch_database(args.database, "statements") as db:
        started = time.perf_counter()
        txs, postings = _ledger(args.workers, args.lines, args.months, args.noise, 7)
        _write(db, txs, postings)
        build_seconds = time.perf_counter() - started
        result = _measure(db, args)
    print(json.dumps({"database": args.database, "workers": args.workers,
                      "lines_per_worker": args.lines, "months": args.months,
                      "ledger_transactions": len(txs), "ledger_postings": len(postings),
                      "build_seconds": round(build_seconds, 1), **result}))


def _measure(db: Database, args: argparse.Namespace) -> dict[str, Any]:
    admin = User(id=0, username="bench", role=Role.ADMIN)
    workers = range(1, args.workers + 1)
    until = START + timedelta(days=30 * args.months + 1)
    profile = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    if profile is not None:
        profile.enable()
    whole = [pay_ledger.statement(db, actor=admin, worker_id=w, since=START - timedelta(1),
                                  until=until) for w in workers]
    if profile is not None:
        profile.disable()
    whole_seconds = time.perf_counter() - started
    whole_lines = sum(len(s.lines) for s in whole)
    _profile_report(profile)
    with db.read() as conn:
        ledger = {w: pay_store.balances(conn, worker_id=w) for w in workers}
    for w, got in zip(workers, whole, strict=True):
        sums: dict[str, int] = {}
        for _w, _p, account, _c, amount in ledger[w]:
            sums[account] = sums.get(account, 0) + amount
        assert {a: v for a, v in got.closing.get("USD", {}).items() if v} == {
            a: v for a, v in sums.items() if v}, f"worker {w}'s closing balance is wrong"
    result: dict[str, Any] = {
        "whole_lines": whole_lines, "whole_seconds": round(whole_seconds, 3),
        "whole_us_per_line": round(whole_seconds / max(1, whole_lines) * 1e6, 1),
    }
    middle = (START + timedelta(days=30 * (args.months // 2) + 3)).replace(day=1)
    last = (START + timedelta(days=30 * args.months - 3)).replace(day=1)
    for name, month in (("middle_month", middle), ("last_month", last)):
        result.update(_month(db, admin, workers, month, args.page, name))
    return result


def _month(db: Database, admin: User, workers: range, month: datetime, page: int,
           name: str) -> dict[str, Any]:
    """A month's statements (the My pay page's period): whole, then paged if built."""
    month_end = month.replace(month=month.month % 12 + 1, year=month.year + (month.month == 12))
    started = time.perf_counter()
    months = [pay_ledger.statement(db, actor=admin, worker_id=w, since=month, until=month_end)
              for w in workers]
    month_seconds = time.perf_counter() - started
    for got in months:  # exact: the movements take the opening balance to the closing one
        moved = dict(got.opening.get("USD", {}))
        for line in got.lines:
            for account, amount in line.amounts.items():
                moved[account] = moved.get(account, 0) + amount
        assert moved == got.closing.get("USD", {}), "the lines do not add up"
    month_lines = sum(len(s.lines) for s in months)
    result: dict[str, Any] = {
        f"{name}_lines": month_lines,
        f"{name}_ms_per_statement": round(month_seconds / len(workers) * 1e3, 1),
    }
    if hasattr(pay_ledger, "MAX_STATEMENT_PAGE"):  # paging (absent before it was built)
        started = time.perf_counter()
        counted = [_pages(db, admin, w, month, month_end, page) for w in workers]
        paged_seconds = time.perf_counter() - started
        assert sum(n for n, _ in counted) == month_lines, "paging lost or added lines"
        pages = sum(p for _, p in counted)
        started = time.perf_counter()
        for w in workers:
            pay_ledger.statement(db, actor=admin, worker_id=w, since=month, until=month_end,
                                 limit=page, newest_first=True)
        first_seconds = time.perf_counter() - started
        result.update({
            f"{name}_pages_of_{page}": pages,
            f"{name}_ms_per_page": round(paged_seconds / pages * 1e3, 1),
            f"{name}_first_page_ms": round(first_seconds / len(workers) * 1e3, 1),
        })
    return result


def _profile_report(profile: cProfile.Profile | None) -> None:
    if profile is not None:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue(), file=sys.stderr)


if __name__ == "__main__":
    main()
