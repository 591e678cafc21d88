"""How long the live ``redundancy.fit`` job takes on a large adaptive project.

Builds a project of ``--items`` items with ``--answers-per-item`` answers each from a
simulated crowd (``simulate_correlated``: 300 workers, three classes), written straight into
the tables (assignments and answers in bulk, then ``ANALYZE`` on PostgreSQL; no HTTP, no
lease logic: this measures the fit, not the loop), turns adaptive redundancy on with the
default policy, and times :func:`expertloop.services.redundancy_jobs.fit_model` (read every
vote, fit the stopping model with ``fit_stopping_model``, store it, re-target what it
changes), ``--repeats`` times. ``fit_seconds_by_refit`` times the model fit alone (no
database) on the same answers for each consensus fit ``replay(refit=...)`` offers but
``auto``.

Usage: ``python bench/redundancy_fit.py [--db sqlite|postgres] [--items 10000]``; prints ONE
JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, text

from _scratch_db import scratch_database
from expertloop.domain import Role
from expertloop.quality._sim_correlated import simulate_correlated
from expertloop.quality.redundancy import DEFAULT_REFIT, fit_stopping_model
from expertloop.services import projects, redundancy
from expertloop.services.items import import_items
from expertloop.services.redundancy_jobs import fit_model
from expertloop.store import tables as t
from expertloop.store import users as user_store

LABELS = ["a", "b", "c"]


def run(kind: str, n_items: int, per_item: int, repeats: int) -> dict[str, Any]:
    crowd = simulate_correlated(
        seed=1, n_items=n_items, n_classes=3, n_workers=300, answers_per_item=per_item
    )
    with scratch_database(kind, "fit") as db:
        now = db.clock.now()
        with db.write() as conn:
            manager = user_store.create_user(
                conn, username="manager", password_hash="x", role=Role.MANAGER, now=now
            )
            workers = [
                user_store.create_user(
                    conn, username=f"w{w}", password_hash="x", role=Role.WORKER, now=now
                ).id
                for w in range(300)
            ]
        project = projects.create_project(
            db, actor=manager, name="fit bench", task_type="label",
            config={"labels": LABELS}, answers_per_item=per_item,
        ).id
        import_items(
            db, actor=manager, project_id=project,
            records=enumerate(
                ({"external_id": f"i{i}", "payload": {"text": f"t{i}"}}
                 for i in range(n_items)), start=1,
            ),
        )
        with db.read() as conn:
            item_ids = [
                r[0] for r in conn.execute(
                    select(t.Item.id).where(t.Item.project_id == project).order_by(t.Item.id)
                )
            ]
        started = time.monotonic()
        rows = list(zip(crowd.workers.tolist(), crowd.items.tolist(),
                        crowd.labels.tolist(), strict=True))
        for lo in range(0, len(rows), 5000):
            chunk = rows[lo : lo + 5000]
            with db.write() as conn:
                first = conn.execute(
                    insert(t.Assignment).returning(t.Assignment.id),
                    [{"project_id": project, "item_id": item_ids[i],
                      "worker_id": workers[w], "status": "answered", "leased_at": now,
                      "expires_at": now + timedelta(hours=1)} for w, i, _ in chunk],
                ).scalars().all()
                conn.execute(insert(t.Answer), [
                    {"project_id": project, "item_id": item_ids[i], "worker_id": workers[w],
                     "assignment_id": a, "value": {"label": LABELS[lab]}, "duration_ms": 1000,
                     "created_at": now}
                    for (w, i, lab), a in zip(chunk, first, strict=True)
                ])
        load_seconds = time.monotonic() - started
        if kind != "sqlite":
            # What autovacuum would do after such a load: without statistics PostgreSQL
            # plans the votes query for empty tables (a nested loop, 20 s here).
            with db.write() as conn:
                conn.execute(text("ANALYZE"))
        redundancy.set_redundancy(db, actor=manager, project_id=project)
        times, last = [], {}
        for _ in range(repeats):
            cpu, wall = time.process_time(), time.monotonic()
            last = fit_model(db, project)
            times.append((time.monotonic() - wall, time.process_time() - cpu))
        by_refit = {}
        for refit in ("one_coin_dawid_skene", "dawid_skene", "hierarchical_dawid_skene"):
            wall = time.monotonic()
            fit_stopping_model(crowd.workers, crowd.items, crowd.labels, classes=3,
                               refit=refit)
            by_refit[refit] = round(time.monotonic() - wall, 3)
        return {
            "db": kind,
            "answers": len(rows),
            "items": n_items,
            "refit": DEFAULT_REFIT,
            "load_seconds": round(load_seconds, 1),
            "fit_model_wall_seconds": [round(w, 2) for w, _ in times],
            "fit_model_cpu_seconds": [round(c, 2) for _, c in times],
            "fit": {k: v for k, v in last.items() if k != "judges"},
            "fit_seconds_by_refit": by_refit,
            "loadavg": os.getloadavg(),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--answers-per-item", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.db, args.items, args.answers_per_item, args.repeats)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
