"""Benchmark: crediting exactly once under retries, duplicates, review decisions and SIGKILLs.

1. **History**: ``--answers`` answers (pairwise, three per item) written straight to the
   database, paid by an hourly rate capped per item (so amounts vary and round).
2. **Live work** over HTTP against a real server process: ``--workers`` simulated workers
   lease and submit ``--live`` more answers (a piece rate) with an ``Idempotency-Key``;
   one submit in ten is sent again (a duplicate), and a submit cut off by a dead server is
   retried with the same key until it is acknowledged. The server is SIGKILLed every
   ``--kill-every`` seconds and restarted.
3. **Crediting** runs in real job worker processes (``expertloop worker``, the periodic
   ``pay.credit`` job), SIGKILLed every ``--job-kill-every`` seconds and restarted, while
   a reviewer thread streams review decisions (accepted, rejected, fixed) on random
   answers.
4. At the end one last pass credits what is left; ``reconcile`` compares the ledger with the
   answers and reviews.

With ``--review-window SECONDS`` both rates have a review window: the passes also approve
pay whose window ended (the history's at once, the live answers' during the load), and a
rejection after a window reverses approved money.

Prints one JSON object: ``ledger_matches``, ``duplicate_credits`` (answers with more than
one credit), ``missing_credits`` (answers without one), the kills, and the seconds to
credit the backlog and to produce every worker's statement.

    python bench/pay.py --answers 1000000
    python bench/pay.py --answers 20000 --live 2000 --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select, text

from expertloop.domain import Role, User
from expertloop.services import pay, pay_ledger, reviews
from expertloop.services.auth import hash_token
from expertloop.store import Database
from expertloop.store import tables as t
from expertloop.store import users as user_store

_EXPORT_BENCH = Path(__file__).with_name("export.py")
_spec = importlib.util.spec_from_file_location("export_bench", _EXPORT_BENCH)
assert _spec is not None
assert _spec.loader is not None
export_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(export_bench)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """A real child process we can SIGKILL and start again."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(self.args, env=self.env, stdout=sink,
                                         stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.kills += 1


def _wait_healthy(port: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become healthy")


def _setup(
    db: Database, history: int, n_workers: int, live: int, window: int | None
) -> tuple[int, User, User, list[str]]:
    """The live project (its items, its piece rate), a manager, a reviewer, worker tokens."""
    now = db.clock.now()
    with db.write() as conn:
        tag = secrets.token_hex(3)
        manager = user_store.create_user(conn, username=f"bench-pay-manager-{tag}",
                                         password_hash="x", role=Role.MANAGER, now=now)
        reviewer = user_store.create_user(conn, username=f"bench-pay-reviewer-{tag}",
                                          password_hash="x", role=Role.REVIEWER, now=now)
        project = conn.execute(insert(t.Project).returning(t.Project.id), {
            "name": "bench pay live", "task_type": "pairwise", "config": {}, "guidelines": "",
            "answers_per_item": 1, "lease_seconds": 60, "created_by": manager.id,
            "created_at": now,
        }).scalar_one()
        conn.execute(insert(t.Item), [{
            "project_id": project, "external_id": f"live-{k}",
            "payload": {"prompt": f"Live question {k}", "response_a": "A.", "response_b": "B."},
            "gold": None, "priority": 0, "target": 1, "n_answers": 0, "open_slots": 1,
            "created_at": now,
        } for k in range(live)])
        tokens = []
        members = [manager.id, reviewer.id]
        for k in range(n_workers):
            worker = user_store.create_user(conn, username=f"bench-pay-w{k}-{secrets.token_hex(3)}",
                                            password_hash="x", role=Role.WORKER, now=now)
            token = "el_bench_" + secrets.token_urlsafe(24)
            user_store.insert_token(conn, user_id=worker.id, token_hash=hash_token(token),
                                    name="bench", now=now)
            tokens.append(token)
            members.append(worker.id)
        conn.execute(insert(t.ProjectMember), [
            {"project_id": project, "user_id": u, "added_at": now} for u in members
        ] + [{"project_id": history, "user_id": u, "added_at": now}
             for u in (manager.id, reviewer.id)])
    pay.set_rate(db, actor=manager, project_id=project, kind="piece", amount_minor=50,
                 currency="USD", review_window_seconds=window)
    return project, manager, reviewer, tokens


def _worker_loop(port: int, token: str, project: int, stop: threading.Event,
                 stats: dict[str, int], lock: threading.Lock, seed: int) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"}
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10)

    def post(path: str, **kwargs: Any) -> httpx.Response | None:
        while not stop.is_set():
            try:
                return client.post(path, **kwargs)
            except httpx.TransportError:
                with lock:
                    stats["retries"] += 1
                time.sleep(0.2)  # the server is down: retry the same request
        return None

    while not stop.is_set():
        lease = post(f"/api/v1/projects/{project}/assignments/next")
        if lease is None or lease.status_code == 204:
            return
        if lease.status_code != 200:
            continue
        assignment = lease.json()["assignment_id"]
        key = f"bench-{assignment}"
        body = {"answer": {"choice": rng.choice(["A", "B", "tie"])}}
        sends = 2 if rng.random() < 0.1 else 1
        for _ in range(sends):
            answer = post(f"/api/v1/assignments/{assignment}/answer", json=body,
                          headers={"Idempotency-Key": key})
            if answer is None:
                return
            with lock:
                stats["submits"] += 1
                if answer.is_success:
                    stats["acknowledged"] += 1 if _ == 0 else 0
                    stats["duplicates"] += 1 if _ else 0


def _reviewer_loop(db: Database, manager: User, reviewer: User, projects: list[int],
                   stop: threading.Event, stats: dict[str, int]) -> None:
    rng = random.Random(11)
    while not stop.is_set():
        project = rng.choice(projects)
        with db.read() as conn:
            top = conn.execute(select(func.max(t.Answer.id)).where(
                t.Answer.project_id == project)).scalar()
        if not top:
            time.sleep(0.2)
            continue
        picks = sorted({rng.randint(1, top) for _ in range(20)})
        with db.read() as conn:
            ids = list(conn.execute(select(t.Answer.id).where(
                t.Answer.id.in_(picks), t.Answer.project_id == project)).scalars())
        if not ids:
            continue
        try:
            reviews.request_reviews(db, actor=manager, project_id=project, answer_ids=ids)
            with db.read() as conn:
                pending = conn.execute(select(t.Review.id, t.Answer.value).join(
                    t.Answer, t.Answer.id == t.Review.answer_id).where(
                    t.Review.answer_id.in_(ids), t.Review.outcome.is_(None))).all()
            for review_id, value in pending:
                roll = rng.random()
                if roll < 0.7:
                    reviews.decide_review(db, actor=reviewer, review_id=review_id,
                                          outcome="accepted")
                elif roll < 0.85:
                    reviews.decide_review(db, actor=reviewer, review_id=review_id,
                                          outcome="rejected", comment="wrong", requeue=False)
                else:
                    other = "A" if value.get("choice") != "A" else "B"
                    reviews.decide_review(db, actor=reviewer, review_id=review_id,
                                          outcome="fixed", answer={"choice": other})
                stats["decisions"] += 1
        except Exception as exc:  # a busy database under load: try again later
            stats["reviewer_errors"] += 1
            print(f"reviewer: {type(exc).__name__}: {exc}", file=sys.stderr)
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=100_000, help="answers in the history")
    parser.add_argument("--live", type=int, default=2000, help="answers submitted over HTTP")
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--kill-every", type=float, default=8.0,
                        help="seconds between server kills")
    parser.add_argument("--job-kill-every", type=float, default=12.0,
                        help="seconds between job worker kills (more than its start-up)")
    parser.add_argument("--review-window", type=int, default=None,
                        help="seconds: give both rates a review window")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-pay-"))
    url = args.database_url or f"sqlite:///{tmp / 'pay.db'}"
    started = time.perf_counter()
    history, _admin = export_bench.generate(url, max(1, args.answers // 3), 3, 20)
    db = Database(url)
    if not db.is_sqlite:  # the history was written with explicit ids: move the sequences on
        with db.write() as conn:
            for table in ("items", "assignments", "answers"):
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"))
    with db.write() as conn:  # the history's rate, in force before its answers (2025-01-01)
        conn.execute(insert(t.PayRate), {
            "project_id": history, "kind": "hourly", "amount_minor": 3001, "currency": "USD",
            "max_seconds_per_item": 45, "effective_from": datetime(2024, 12, 31),
            "created_by": None, "created_at": datetime(2024, 12, 31),
            "review_window_seconds": args.review_window,
        })
    project, manager, reviewer, tokens = _setup(db, history, args.workers, args.live,
                                                args.review_window)
    print(f"set up in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    port = _free_port()
    env = {**os.environ, "EXPERTLOOP_DATABASE_URL": url, "EXPERTLOOP_DATA_DIR": str(tmp),
           "EXPERTLOOP_LOG_LEVEL": "warning", "EXPERTLOOP_JOB_WORKERS": "0",
           "EXPERTLOOP_PAY_SWEEP_SECONDS": "0.5"}
    command = [sys.executable, "-m", "expertloop.cli.main"]
    server = Process([*command, "serve", "--port", str(port)], env, tmp / "server.log")
    jobs = Process([*command, "worker"], {**env, "EXPERTLOOP_JOB_KINDS": "pay.credit"},
                   tmp / "jobs.log")
    stop = threading.Event()
    lock = threading.Lock()
    stats = {"submits": 0, "acknowledged": 0, "duplicates": 0, "retries": 0,
             "decisions": 0, "reviewer_errors": 0}
    threads = [threading.Thread(target=_worker_loop, daemon=True,
                                args=(port, token, project, stop, stats, lock, k))
               for k, token in enumerate(tokens)]
    reviewer_stop = threading.Event()
    review_thread = threading.Thread(target=_reviewer_loop, daemon=True, args=(
        db, manager, reviewer, [history, project], reviewer_stop, stats))
    try:
        server.start()
        _wait_healthy(port)
        jobs.start()
        load_seconds = _load(args, port, server, jobs, threads, review_thread, reviewer_stop)
    finally:  # whatever happens, no child process outlives the benchmark
        stop.set()
        reviewer_stop.set()
        jobs.kill()
        server.kill()
    _report(db, args, stats, server, jobs, load_seconds)


def _load(args: argparse.Namespace, port: int, server: Process, jobs: Process,
          threads: list[threading.Thread], review_thread: threading.Thread,
          reviewer_stop: threading.Event) -> float:
    for thread in [*threads, review_thread]:
        thread.start()
    next_kill = time.monotonic() + args.kill_every
    next_job_kill = time.monotonic() + args.job_kill_every
    load_started = time.perf_counter()
    while any(thread.is_alive() for thread in threads):
        time.sleep(0.1)
        if time.monotonic() >= next_kill:
            server.kill()
            server.start()
            _wait_healthy(port)  # the next kill only after it served a while again
            next_kill = time.monotonic() + args.kill_every
        if time.monotonic() >= next_job_kill:
            jobs.kill()
            jobs.start()
            next_job_kill = time.monotonic() + args.job_kill_every
    load_seconds = time.perf_counter() - load_started
    # Let the job worker credit a while longer (the history's backlog), killing it mid-pass.
    for _ in range(3):
        time.sleep(args.job_kill_every)
        jobs.kill()
        jobs.start()
    reviewer_stop.set()
    review_thread.join()
    return load_seconds


def _report(db: Database, args: argparse.Namespace, stats: dict[str, int], server: Process,
            jobs: Process, load_seconds: float) -> None:
    # Everything is now older than the grace period; one last pass credits what is left.
    credit_started = time.perf_counter()
    final = pay.credit(db, grace_seconds=0)
    credit_seconds = time.perf_counter() - credit_started
    result = pay_ledger.reconcile(db, grace_seconds=0)
    with db.read() as conn:
        answers = conn.execute(select(func.count()).select_from(t.Answer)).scalar_one()
        kinds = dict(conn.execute(select(t.PayTransaction.kind, func.count()).group_by(
            t.PayTransaction.kind)).all())
        window_approvals = conn.execute(select(func.count()).select_from(t.PayTransaction).where(
            t.PayTransaction.kind == "approval", t.PayTransaction.review_id.is_(None),
        )).scalar_one()
        credits = kinds.get("credit", 0)
        worker_ids = list(conn.execute(select(t.PayTransaction.worker_id).distinct()).scalars())
    statements_started = time.perf_counter()
    lines = 0
    admin = User(id=0, username="bench", role=Role.ADMIN)
    for worker_id in worker_ids:
        if worker_id is not None:
            lines += len(pay_ledger.statement(
                db, actor=admin, worker_id=worker_id,
                since=datetime(2024, 1, 1), until=datetime.now() + timedelta(days=1)).lines)
    statements_seconds = time.perf_counter() - statements_started
    print(json.dumps({
        "database": "sqlite" if db.is_sqlite else "postgresql",
        "answers": answers,
        "history_answers": args.answers,
        "live_answers_acknowledged": stats["acknowledged"],
        "duplicate_submits": stats["duplicates"],
        "submit_retries_after_kills": stats["retries"],
        "review_decisions": stats["decisions"],
        "server_kills": server.kills,
        "job_worker_kills": jobs.kills,
        "credits": credits,
        "review_window_seconds": args.review_window,
        "approvals": kinds.get("approval", 0),
        "window_approvals": window_approvals,
        "reversals": kinds.get("reversal", 0),
        "ledger_matches": result.matches,
        "duplicate_credits": result.duplicate_credits,
        "missing_credits": result.missing_credits,
        "differences": len(result.differences),
        "credited_by_final_pass": final.credits,
        "approved_by_final_pass": final.approvals,
        "final_pass_seconds": round(credit_seconds, 2),
        "statements": len(worker_ids),
        "statement_lines": lines,
        "statements_seconds": round(statements_seconds, 2),
        "load_seconds": round(load_seconds, 1),
    }))


if __name__ == "__main__":
    main()
