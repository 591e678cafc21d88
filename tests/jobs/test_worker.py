"""Job workers: exclusive claims, retries with backoff, cancel, progress and lease expiry."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from db_fixtures import Env
from expertloop.jobs import JobContext, JobKind, Worker, backoff_seconds
from expertloop.services.clock import utcnow
from expertloop.settings import Settings
from expertloop.store import jobs as job_store
from expertloop.store.jobs import JobRow


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path, "job_lease_seconds": 5.0, "job_retry_seconds": 10.0,
        "job_poll_seconds": 0.05,
    }
    return Settings(**(values | overrides))


def _queue(env: Env, kind: str, *, dedupe_key: str | None = None, **kw: Any) -> JobRow:
    with env.db.write() as conn:
        job, _ = job_store.enqueue_job(
            conn, kind=kind, params=kw, now=utcnow(), dedupe_key=dedupe_key, max_attempts=3
        )
    return job


def _load(env: Env, job_id: int) -> JobRow:
    with env.db.read() as conn:
        job = job_store.load_job(conn, job_id)
    assert job is not None
    return job


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_concurrent_workers_run_each_job_exactly_once(env: Env, tmp_path: Path) -> None:
    runs: Counter[int] = Counter()
    lock = threading.Lock()

    def handler(context: JobContext) -> dict[str, Any]:
        with lock:
            runs[context.job.id] += 1
        return {"n": context.params["n"] * 2}

    kinds = {"test.double": JobKind("test.double", handler)}
    jobs = [_queue(env, "test.double", n=n) for n in range(60)]
    settings = _settings(tmp_path)
    workers = [Worker(env.db, settings, kinds=kinds) for _ in range(6)]
    start = threading.Barrier(len(workers))

    def drain(worker: Worker) -> None:
        start.wait()
        while worker.run_one() is not None:
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert runs == Counter({job.id: 1 for job in jobs})
    for n, job in enumerate(jobs):
        done = _load(env, job.id)
        assert (done.status, done.result, done.attempts) == ("succeeded", {"n": 2 * n}, 1)


def test_a_failing_job_is_retried_with_growing_backoff_then_fails(
    env: Env, tmp_path: Path
) -> None:
    attempts: list[int] = []

    def handler(context: JobContext) -> None:
        attempts.append(context.job.attempts)
        raise RuntimeError("upstream is down")

    job = _queue(env, "test.fail")
    clock = Clock()
    worker = Worker(
        env.db, _settings(tmp_path), kinds={"test.fail": JobKind("test.fail", handler)},
        clock=clock,
    )
    assert worker.run_one() is not None
    first = _load(env, job.id)
    assert first.status == "queued"
    assert "upstream is down" in (first.error or "")
    assert first.run_after == clock.now + timedelta(seconds=10)
    assert worker.run_one() is None  # not due yet
    clock.advance(10)
    assert worker.run_one() is not None
    assert _load(env, job.id).run_after == clock.now + timedelta(seconds=20)
    clock.advance(20)
    worker.run_one()
    failed = _load(env, job.id)
    assert attempts == [1, 2, 3]
    assert failed.status == "failed"
    assert failed.finished_at == clock.now
    assert "RuntimeError: upstream is down" in (failed.error or "")
    assert backoff_seconds(10, 3) == 40
    assert backoff_seconds(10, 30) == 3600


def test_a_cancelled_queued_job_never_runs(env: Env, tmp_path: Path) -> None:
    ran: list[int] = []
    kinds = {"test.noop": JobKind("test.noop", lambda c: ran.append(c.job.id) or None)}
    job = _queue(env, "test.noop")
    with env.db.write() as conn:
        cancelled = job_store.cancel_job(conn, job.id, now=utcnow())
    assert cancelled is not None
    assert cancelled.status == "cancelled"
    assert Worker(env.db, _settings(tmp_path), kinds=kinds).run_one() is None
    assert ran == []


def test_a_running_job_reports_progress_and_stops_when_cancelled(
    env: Env, tmp_path: Path
) -> None:
    started = threading.Event()
    stopped: list[str] = []

    def handler(context: JobContext) -> None:
        context.set_total(1000)
        started.set()
        try:
            while True:
                context.advance(1)
                time.sleep(0.01)
        except Exception as exc:
            stopped.append(type(exc).__name__)
            raise

    worker = Worker(
        env.db, _settings(tmp_path, job_lease_seconds=0.3),
        kinds={"test.long": JobKind("test.long", handler)},
    )
    job = _queue(env, "test.long")
    thread = threading.Thread(target=worker.run_one)
    thread.start()
    assert started.wait(10)
    _wait_for(lambda: _load(env, job.id).progress_done > 0)
    running = _load(env, job.id)
    assert running.status == "running"
    assert running.progress_total == 1000
    with env.db.write() as conn:
        job_store.cancel_job(conn, job.id, now=utcnow())
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert stopped == ["JobInterrupted"]
    assert _load(env, job.id).status == "cancelled"


def test_a_job_whose_worker_died_is_claimed_again_after_its_lease(
    env: Env, tmp_path: Path
) -> None:
    kinds = {"test.once": JobKind("test.once", lambda c: {"by": "second"})}
    job = _queue(env, "test.once")
    clock = Clock()
    with env.db.write() as conn:
        dead = job_store.claim_next_job(
            conn, kinds=["test.once"], owner="dead-worker", now=clock.now, lease_seconds=5
        )
    assert dead is not None
    assert dead.id == job.id
    second = Worker(env.db, _settings(tmp_path), kinds=kinds, clock=clock)
    assert second.run_one() is None  # the lease is still live
    clock.advance(6)
    assert second.run_one() is not None
    done = _load(env, job.id)
    assert (done.status, done.result, done.attempts) == ("succeeded", {"by": "second"}, 2)
    with env.db.write() as conn:  # the dead worker, were it to wake, changes nothing
        assert not job_store.finish_job(
            conn, job.id, owner="dead-worker", now=clock.now, result={"by": "first"},
            done=0, total=None,
        )
    assert _load(env, job.id).result == {"by": "second"}


def test_a_job_interrupted_on_every_attempt_fails(env: Env, tmp_path: Path) -> None:
    kinds = {"test.once": JobKind("test.once", lambda c: None)}
    job = _queue(env, "test.once")
    clock = Clock()
    for _ in range(3):
        with env.db.write() as conn:
            job_store.claim_next_job(
                conn, kinds=["test.once"], owner="doomed", now=clock.now, lease_seconds=1
            )
        clock.advance(2)
    Worker(env.db, _settings(tmp_path), kinds=kinds, clock=clock).run_one()
    failed = _load(env, job.id)
    assert failed.status == "failed"
    assert "interrupted 3 times" in (failed.error or "")


def test_a_dedupe_key_queues_one_job_while_it_is_live(env: Env) -> None:
    first = _queue(env, "test.noop", dedupe_key="refresh-7")
    again = _queue(env, "test.noop", dedupe_key="refresh-7")
    assert again.id == first.id
    with env.db.write() as conn:
        job_store.cancel_job(conn, first.id, now=utcnow())
    assert _queue(env, "test.noop", dedupe_key="refresh-7").id != first.id


def test_a_periodic_kind_stays_queued_once_and_repeats_after_each_run(
    env: Env, tmp_path: Path
) -> None:
    clock = Clock()
    runs: list[int] = []
    kind = JobKind("test.tick", lambda c: runs.append(c.job.id) or None, every=lambda s: 30.0)
    workers = [
        Worker(env.db, _settings(tmp_path), kinds={kind.name: kind}, clock=clock)
        for _ in range(2)
    ]
    for worker in workers:
        worker.ensure_periodic()
    assert all(w.run_one() is not None for w in workers[:1])
    assert all(w.run_one() is None for w in workers)  # the next one is due in 30 s
    with env.db.read() as conn:
        queued = job_store.list_jobs(conn, kind="test.tick", status="queued")
    assert len(queued) == 1
    assert queued[0].run_after == clock.now + timedelta(seconds=30)
    clock.advance(30)
    assert workers[1].run_one() is not None
    assert len(runs) == 2


def test_the_runner_returns_expired_item_leases_to_the_pool_as_a_periodic_job(
    env: Env, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from db_fixtures import pairwise_item
    from expertloop.domain import Role
    from expertloop.jobs import JobRunner
    from expertloop.services.assignments import next_assignment
    from expertloop.services.jobs import load_job_kinds

    manager, worker = env.user(Role.MANAGER), env.user(Role.WORKER)
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(1)])
    assignment = next_assignment(env.db, actor=worker, project_id=project)
    assert assignment is not None
    with env.db.write() as conn:
        conn.execute(
            text("UPDATE assignments SET expires_at = :past WHERE id = :a"),
            {"past": utcnow() - timedelta(seconds=1), "a": assignment.id},
        )

    def status() -> str:
        with env.db.read() as conn:
            return str(conn.execute(
                text("SELECT status FROM assignments WHERE id = :a"), {"a": assignment.id}
            ).scalar_one())

    kinds = {"leases.expire": load_job_kinds()["leases.expire"]}
    runner = JobRunner(env.db, _settings(tmp_path, lease_sweep_seconds=0.1), kinds=kinds)
    runner.start()
    try:
        _wait_for(lambda: status() == "expired")
    finally:
        runner.stop()
    with env.db.read() as conn:
        rows = job_store.list_jobs(conn, kind="leases.expire")
    assert len(rows) == 1  # one row, queued again after each run
    assert rows[0].status in ("queued", "running")


def test_finished_jobs_are_pruned_after_the_retention_but_exports_are_kept(
    env: Env, tmp_path: Path
) -> None:
    from expertloop.services.jobs import PRUNE_KIND, load_job_kinds

    old = utcnow() - timedelta(days=8)
    ids = {}
    for kind in ("consensus.refresh", "export.dataset", "test.recent"):
        with env.db.write() as conn:
            job, _ = job_store.enqueue_job(conn, kind=kind, params={}, now=old)
            claimed = job_store.claim_next_job(
                conn, kinds=[kind], owner="w", now=old, lease_seconds=5
            )
            assert claimed is not None
            finished_at = utcnow() if kind == "test.recent" else old
            job_store.finish_job(conn, job.id, owner="w", now=finished_at, result=None,
                                 done=0, total=None)
        ids[kind] = job.id
    clock = Clock()
    worker = Worker(env.db, _settings(tmp_path),
                    kinds={PRUNE_KIND: load_job_kinds()[PRUNE_KIND]}, clock=clock)
    with env.db.write() as conn:
        job_store.enqueue_job(conn, kind=PRUNE_KIND, params={}, now=clock.now)
    assert worker.run_one() is not None
    with env.db.read() as conn:
        left = {job.id for job in job_store.list_jobs(conn)} & set(ids.values())
    assert left == {ids["export.dataset"], ids["test.recent"]}


def test_a_job_kind_cannot_be_registered_twice_by_different_handlers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from expertloop.jobs import job_kind, job_kinds, registry

    monkeypatch.setattr(registry, "_KINDS", {})  # leave the real registry alone

    def first(context: JobContext) -> None:
        return None

    def second(context: JobContext) -> None:
        return None

    job_kind("test.registered-once")(first)
    job_kind("test.registered-once")(first)  # the same function again: fine
    with pytest.raises(ValueError, match="already registered"):
        job_kind("test.registered-once")(second)
    assert job_kinds()["test.registered-once"].handler is first


def test_a_process_runs_only_the_job_kinds_its_settings_name(tmp_path: Path) -> None:
    from expertloop.services.jobs import chosen_job_kinds, load_job_kinds

    assert chosen_job_kinds(_settings(tmp_path)) == load_job_kinds()
    some = chosen_job_kinds(_settings(tmp_path, job_kinds=" export.dataset , leases.expire"))
    assert list(some) == ["export.dataset", "leases.expire"]
    with pytest.raises(ValueError, match="unknown job kinds \\['nope'\\]"):
        chosen_job_kinds(_settings(tmp_path, job_kinds="export.dataset,nope"))
