"""Benchmark: export a project of answered items to Parquet and JSONL.

Generates a pairwise project of ``--items`` items with ``--answers`` answers each (bulk
inserts through SQLAlchemy Core into a fresh SQLite file, or a PostgreSQL database given by
``--database-url``), then times the export service path (consensus fit + rows + writer) in
a fresh child process per output, measuring its CPU time and peak memory (max RSS), then,
apart, the card's numbers (Krippendorff's alpha). Prints one JSON object; run it with
``nice`` on a shared machine, and read ``rows_per_cpu_second`` there.

    python bench/export.py                      # 1,000,000 items, 3 answers each, SQLite
    python bench/export.py --items 100000 --answers 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from expertloop.domain import Role, User
from expertloop.exports.writers import write_rows
from expertloop.services.exports import ExportOptions, prepare_export
from expertloop.store import Database, upgrade
from expertloop.store import tables as t

CHUNK = 50_000


def generate(url: str, n_items: int, n_answers: int, n_workers: int) -> tuple[int, int]:
    db = Database(url)
    upgrade(db)
    now = datetime(2025, 1, 1)
    rng = random.Random(7)
    with db.write() as conn:
        admin_id = conn.execute(
            insert(t.User).returning(t.User.id),
            {"username": "bench-admin", "password_hash": "x", "role": "admin",
             "is_active": True, "created_at": now},
        ).scalar_one()
        workers = [
            conn.execute(
                insert(t.User).returning(t.User.id),
                {"username": f"bench-w{k}", "password_hash": "x", "role": "worker",
                 "is_active": True, "created_at": now},
            ).scalar_one()
            for k in range(n_workers)
        ]
        project_id = conn.execute(
            insert(t.Project).returning(t.Project.id),
            {"name": "bench export", "task_type": "pairwise", "config": {}, "guidelines": "",
             "answers_per_item": n_answers, "lease_seconds": 600, "created_by": admin_id,
             "created_at": now},
        ).scalar_one()
    accuracy = [rng.uniform(0.6, 0.95) for _ in workers]
    item_id = assignment_id = 0
    for start in range(0, n_items, CHUNK):
        size = min(CHUNK, n_items - start)
        items, assignments, answers = [], [], []
        for k in range(start, start + size):
            item_id += 1
            truth = "A" if k % 2 else "B"
            items.append({
                "id": item_id, "project_id": project_id, "external_id": f"q-{k}",
                "payload": {"prompt": f"Question {k}: which answer is right?",
                            "response_a": f"Answer A to question {k}.",
                            "response_b": f"Answer B to question {k}."},
                "gold": None, "priority": 0, "target": n_answers, "n_answers": n_answers,
                "open_slots": 0, "created_at": now,
            })
            for w in rng.sample(range(n_workers), n_answers):
                assignment_id += 1
                wrong = "B" if truth == "A" else "A"
                choice = truth if rng.random() < accuracy[w] else rng.choice([wrong, "tie"])
                assignments.append({
                    "id": assignment_id, "project_id": project_id, "item_id": item_id,
                    "worker_id": workers[w], "status": "answered", "presentation": None,
                    "leased_at": now, "expires_at": now, "finished_at": now,
                })
                answers.append({
                    "id": assignment_id, "project_id": project_id, "item_id": item_id,
                    "worker_id": workers[w], "assignment_id": assignment_id,
                    "value": {"choice": choice}, "idempotency_key": None,
                    "duration_ms": rng.randint(2_000, 60_000), "created_at": now,
                })
        with db.write() as conn:
            conn.execute(insert(t.Item), items)
            conn.execute(insert(t.Assignment), assignments)
            conn.execute(insert(t.Answer), answers)
    db.dispose()
    return project_id, admin_id


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_export(
    url: str, project_id: int, admin_id: int, output: str, path: str, *,
    reviewed_only: bool = False,
) -> None:
    db = Database(url)
    actor = User(id=admin_id, username="bench-admin", role=Role.ADMIN)
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    options = ExportOptions(format="preference", reviewed_only=reviewed_only)
    prepared = prepare_export(
        db, actor=actor, project_id=project_id, options=options, secret_key="bench"
    )
    fitted = time.perf_counter()
    with open(path, "wb") as sink:
        write_rows(prepared.batches(), sink, output=output, schema=prepared.schema)
    done, cpu_done = time.perf_counter(), _cpu_seconds()
    peak_mb = _peak_mb()
    # The card's numbers (Krippendorff's alpha over every answer) are computed only when a
    # card is asked for (--to hub, the CLI's summary): timed apart from the export.
    stats = prepared.card_stats()
    card_done = time.perf_counter()
    print(json.dumps({
        "rows": prepared.counts.rows,
        "items": prepared.counts.items,
        "seconds": round(done - start, 2),
        "fit_seconds": round(fitted - start, 2),
        "cpu_seconds": round(cpu_done - cpu_start, 2),
        "rows_per_second": round(prepared.counts.rows / (done - start)),
        "rows_per_cpu_second": round(prepared.counts.rows / (cpu_done - cpu_start)),
        "items_per_second": round(prepared.counts.items / (done - start)),
        "peak_memory_mb": peak_mb,
        "file_mb": round(os.path.getsize(path) / 2**20, 1),
        "review_scope": prepared.reviews.value,
        "consensus_method": stats.consensus_method,
        "consensus_fallbacks": stats.consensus_fallbacks,
        "card": {
            "seconds": round(card_done - done, 2),
            "peak_memory_mb": _peak_mb(),
            "krippendorff_alpha": stats.agreement_alpha,
        },
    }))
    db.dispose()


def export_in_child(
    url: str, project_id: int, admin_id: int, output: str, path: str, *,
    reviewed_only: bool = False,
) -> dict[str, Any]:
    """Run :func:`run_export` in a fresh process (its own peak memory); its JSON figures."""
    child = subprocess.run(
        [sys.executable, __file__, "--child", url, str(project_id), str(admin_id), output,
         path, "reviewed-only" if reviewed_only else "all"],
        check=True, capture_output=True, text=True,
    )
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--answers", type=int, default=3)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, project, admin, output, path, reviewed_only = args.child
        run_export(url, int(project), int(admin), output, path,
                   reviewed_only=reviewed_only == "reviewed-only")
        return
    with tempfile.TemporaryDirectory(prefix="expertloop-bench-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        began = time.perf_counter()
        project_id, admin_id = generate(url, args.items, args.answers, args.workers)
        generated = time.perf_counter() - began
        results: dict[str, Any] = {}
        for output in ("parquet", "jsonl"):
            path = str(Path(tmp) / f"export.{output}")
            results[output] = export_in_child(url, project_id, admin_id, output, path)
    print(json.dumps({
        "benchmark": "export",
        "database": "postgresql" if args.database_url.startswith("postgresql") else "sqlite",
        "items": args.items,
        "answers_per_item": args.answers,
        "workers": args.workers,
        "generate_seconds": round(generated, 1),
        "format": "preference (conversational)",
        **results,
        "target": {"rows_per_second": 50_000, "peak_memory_mb": 500},
    }))


if __name__ == "__main__":
    main()
