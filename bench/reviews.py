"""Benchmark: the review queue and reviewed exports on a large project.

Generates a pairwise project like ``bench/export.py`` (or reuses one given by
``--database-url`` and ``--project``), then measures, through the services:

1. **sampling**: ``request_reviews(fraction=F)``, which queues that share of the answers at
   random (seconds, answers queued);
2. **the queue**: ``--reviewers`` reviewers take turns with ``next_review`` then
   ``decide_review`` (80% accepted, 10% rejected with a requeue, 10% fixed) for
   ``--decisions`` decisions: latency p50 / p99 of each call;
3. **exports after review**: every other queued review is decided in bulk with SQL (one in
   ten rejected, one in ten fixed, the rest accepted); then a JSONL preference export with
   reviews applied (rejected answers left out, fixes in place) and one with
   ``reviewed_only``, each in a fresh process: rows per second and peak memory.

Prints one JSON object. On a shared machine run it with ``nice``.

    python bench/reviews.py --items 1000000
    python bench/reviews.py --database-url postgresql+psycopg://... --project 1
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

from expertloop.domain import Role, User
from expertloop.services import reviews
from expertloop.store import Database, upgrade
from expertloop.store import tables as t

_EXPORT_BENCH = Path(__file__).with_name("export.py")
_spec = importlib.util.spec_from_file_location("export_bench", _EXPORT_BENCH)
assert _spec is not None
assert _spec.loader is not None
export_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(export_bench)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def _reviewers(db: Database, project_id: int, n: int) -> list[User]:
    now = datetime(2025, 1, 1)
    users = []
    with db.write() as conn:
        for k in range(n):
            name = f"bench-reviewer-{project_id}-{k}-{random.randrange(10**9)}"
            user_id = conn.execute(
                insert(t.User).returning(t.User.id),
                {"username": name, "password_hash": "x", "role": "reviewer",
                 "is_active": True, "created_at": now},
            ).scalar_one()
            conn.execute(
                insert(t.ProjectMember),
                {"project_id": project_id, "user_id": user_id, "added_at": now},
            )
            users.append(User(id=user_id, username=name, role=Role.REVIEWER))
    return users


def _queue_loop(
    db: Database, project_id: int, reviewers: list[User], decisions: int
) -> dict[str, Any]:
    rng = random.Random(3)
    next_times: list[float] = []
    decide_times: list[float] = []
    outcomes = {"accepted": 0, "rejected": 0, "fixed": 0}
    for k in range(decisions):
        reviewer = reviewers[k % len(reviewers)]
        began = time.perf_counter()
        review = reviews.next_review(db, actor=reviewer, project_id=project_id)
        next_times.append(time.perf_counter() - began)
        if review is None:
            break
        draw = rng.random()
        if draw < 0.8:
            decision: dict[str, Any] = {"outcome": "accepted"}
        elif draw < 0.9:
            decision = {"outcome": "rejected", "comment": "did not compare the answers"}
        else:
            flipped = {"A": "B", "B": "A", "tie": "A"}[review.answer["choice"]]
            decision = {"outcome": "fixed", "answer": {"choice": flipped}}
        began = time.perf_counter()
        reviews.decide_review(db, actor=reviewer, review_id=review.id, **decision)
        decide_times.append(time.perf_counter() - began)
        outcomes[decision["outcome"]] += 1
    return {
        "decisions": len(decide_times),
        "outcomes": outcomes,
        "next_p50_ms": _percentile(next_times, 0.5),
        "next_p99_ms": _percentile(next_times, 0.99),
        "decide_p50_ms": _percentile(decide_times, 0.5),
        "decide_p99_ms": _percentile(decide_times, 0.99),
        "mean_ms": round(statistics.fmean(next_times + decide_times) * 1000, 2),
    }


def _decide_half_in_bulk(db: Database, project_id: int) -> dict[str, int]:
    """Decide every other pending review: id % 10 == 0 rejected, == 2 fixed, else accepted."""
    fixed = '{"choice": "tie"}'
    value = f"CAST('{fixed}' AS jsonb)" if db.engine.dialect.name == "postgresql" else f"'{fixed}'"
    with db.write() as conn:
        conn.execute(
            text(
                "UPDATE reviews SET decided_at = requested_at, comment = 'bulk', "
                "outcome = CASE WHEN id % 10 = 0 THEN 'rejected' WHEN id % 10 = 2 THEN 'fixed' "
                f"ELSE 'accepted' END, fixed_value = CASE WHEN id % 10 = 2 THEN {value} END "
                "WHERE project_id = :p AND outcome IS NULL AND id % 2 = 0"
            ),
            {"p": project_id},
        )
        return {
            str(outcome or "pending"): int(n)
            for outcome, n in conn.execute(
                text("SELECT outcome, count(*) FROM reviews WHERE project_id = :p "
                     "GROUP BY outcome"),
                {"p": project_id},
            )
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--answers", type=int, default=3)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--project", type=int, help="reuse this generated project")
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--reviewers", type=int, default=4)
    parser.add_argument("--decisions", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="expertloop-bench-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        if args.project is None:
            project_id, admin_id = export_bench.generate(url, args.items, args.answers, 50)
        else:
            project_id = args.project
            db = Database(url)
            upgrade(db)  # a database generated before the reviews migration
            with db.read() as conn:
                admin_id = conn.execute(
                    select(t.Project.created_by).where(t.Project.id == project_id)
                ).scalar_one()
            db.dispose()
        db = Database(url)
        admin = User(id=admin_id, username="bench-admin", role=Role.ADMIN)
        with db.read() as conn:
            n_answers = conn.execute(
                text("SELECT count(*) FROM answers WHERE project_id = :p"), {"p": project_id}
            ).scalar_one()
        began = time.perf_counter()
        queued = reviews.request_reviews(
            db, actor=admin, project_id=project_id, fraction=args.fraction
        )
        sample_seconds = time.perf_counter() - began
        # (admins review too: the admin is not a member, so reviewers are made members)
        reviewers = _reviewers(db, project_id, args.reviewers)
        queue = _queue_loop(db, project_id, reviewers, args.decisions)
        review_counts = _decide_half_in_bulk(db, project_id)
        db.dispose()
        exports = {
            mode: export_bench.export_in_child(
                url, project_id, admin_id, "jsonl", str(Path(tmp) / f"{mode}.jsonl"),
                reviewed_only=mode == "reviewed_only",
            )
            for mode in ("with_reviews", "reviewed_only")
        }
    print(json.dumps({
        "benchmark": "reviews",
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "answers": n_answers,
        "sample": {"fraction": args.fraction, "queued": queued,
                   "seconds": round(sample_seconds, 2)},
        "queue": {"reviewers": args.reviewers, **queue},
        "reviews_after_bulk": review_counts,
        "exports": exports,
    }))


if __name__ == "__main__":
    main()
