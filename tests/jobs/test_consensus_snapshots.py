"""Consensus snapshots: refreshed by jobs, skipped when nothing changed, served with their
age instead of being refitted per request."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from job_helpers import answer_all, small_project

from db_fixtures import Env
from expertloop.app import create_app
from expertloop.jobs import Worker
from expertloop.services import consensus
from expertloop.services.exports import iter_consensus
from expertloop.services.jobs import load_job_kinds
from expertloop.settings import Settings
from expertloop.store import consensus as snapshot_store
from expertloop.store import jobs as job_store


def _lines(env: Env, project: int) -> dict[int, dict]:
    with env.db.read() as conn:
        snapshot = snapshot_store.load_snapshot(conn, project, False)
        assert snapshot is not None
        return {
            line["item_id"]: line
            for batch in snapshot_store.iter_snapshot_lines(
                conn, project, False, snapshot.generation
            )
            for line in batch
        }


def _generations(env: Env, project: int) -> set[int]:
    from sqlalchemy import select

    from expertloop.store import tables as t

    with env.db.read() as conn:
        return set(
            conn.execute(
                select(t.ConsensusItem.generation).where(t.ConsensusItem.project_id == project)
            ).scalars()
        )


def _settle(env: Env, worker: Worker, kind: str) -> None:
    """Run the due jobs of ``kind`` until none is queued or running. The shared test
    server's own job runner may take some of them: either way they end up done."""
    deadline = time.monotonic() + 30
    while True:
        worker.run_one()
        with env.db.read() as conn:
            live = [
                j for j in job_store.list_jobs(conn, kind=kind)
                if j.status in ("queued", "running")
            ]
        if not live:
            return
        assert time.monotonic() < deadline, live
        time.sleep(0.02)


def _worker(env: Env, tmp_path: Path, *names: str) -> Worker:
    kinds = {name: load_job_kinds()[name] for name in names}
    return Worker(env.db, Settings(data_dir=tmp_path), kinds=kinds)


def test_a_refresh_stores_the_consensus_and_skips_the_refit_when_nothing_arrived(
    env: Env,
) -> None:
    manager, workers, project = small_project(env)
    answer_all(env, project, workers[:2])
    first = consensus.refresh_snapshot(env.db, project, include_gold=False)
    assert first["skipped"] is False
    assert first["items"] == 4
    expected = {
        line["item_id"]: line for line in iter_consensus(env.db, actor=manager, project_id=project)
    }
    assert _lines(env, project) == expected
    again = consensus.refresh_snapshot(env.db, project, include_gold=False)
    assert again == {"skipped": True, "generation": first["generation"]}


def test_new_answers_make_the_watcher_queue_one_refresh_which_replaces_the_snapshot(
    env: Env, tmp_path: Path
) -> None:
    manager, workers, project = small_project(env, answers_per_item=3)
    answer_all(env, project, workers[:1], "A")
    consensus.refresh_snapshot(env.db, project, include_gold=False)
    assert consensus.queue_stale_refreshes(env.db)["queued"] == 0
    with env.db.read() as conn:
        assert job_store.list_jobs(conn, kind=consensus.REFRESH_KIND) == []  # nothing new

    answer_all(env, project, workers[1:2], "B")
    for _ in range(2):
        consensus.queue_stale_refreshes(env.db)
    with env.db.read() as conn:
        queued = job_store.list_jobs(conn, kind=consensus.REFRESH_KIND)
    assert len(queued) == 1  # by this watch or the test server's: deduplicated either way
    assert queued[0].project_id == project

    with env.db.write() as conn:  # due now rather than after the pacing delay
        conn.execute(job_store.t.Job.__table__.update().values(run_after=queued[0].created_at))
    _settle(env, _worker(env, tmp_path, consensus.REFRESH_KIND), consensus.REFRESH_KIND)
    assert _lines(env, project) == {
        line["item_id"]: line for line in iter_consensus(env.db, actor=manager, project_id=project)
    }
    with env.db.read() as conn:
        before = snapshot_store.load_snapshot(conn, project, False)
    assert before is not None
    answer_all(env, project, workers[2:3], "A")
    fresh = consensus.refresh_snapshot(env.db, project, include_gold=False)
    assert fresh["switched"] is True
    assert consensus.refresh_snapshot(env.db, project, include_gold=False)["skipped"] is True
    # The replaced generation stays for readers still streaming it; older ones are gone.
    assert _generations(env, project) == {before.generation, fresh["generation"]}


def test_a_refresh_that_loses_a_race_to_a_newer_one_leaves_the_newer_snapshot(
    env: Env,
) -> None:
    manager, workers, project = small_project(env)
    answer_all(env, project, workers[:2])
    newer = consensus.refresh_snapshot(env.db, project, include_gold=False)
    with env.db.write() as conn:
        snapshot = snapshot_store.load_snapshot(conn, project, False)
        assert snapshot is not None
        older = newer["generation"] - 10
        snapshot_store.write_lines(conn, project, False, older, [{"item_id": 1}])
        switched = snapshot_store.switch_snapshot(
            conn, project_id=project, include_gold=False, generation=older,
            computed_at=snapshot.computed_at, seen=snapshot.fingerprint, n_items=1,
            duration_ms=1, method="stale", agreement={}, fallbacks={},
        )
    assert switched == (False, newer["generation"])
    assert _lines(env, project) == {
        line["item_id"]: line for line in iter_consensus(env.db, actor=manager, project_id=project)
    }


def test_the_watcher_paces_refreshes_by_how_long_the_last_one_took(
    env: Env, tmp_path: Path
) -> None:
    _, workers, project = small_project(env)
    answer_all(env, project, workers[:1])
    consensus.refresh_snapshot(env.db, project, include_gold=False)
    with env.db.write() as conn:
        conn.execute(snapshot_store.t.ConsensusSnapshot.__table__.update().values(
            duration_ms=60_000
        ))
        snapshot = snapshot_store.load_snapshot(conn, project, False)
    assert snapshot is not None
    answer_all(env, project, workers[1:2])
    consensus.queue_stale_refreshes(env.db)
    with env.db.read() as conn:
        (job,) = job_store.list_jobs(conn, kind=consensus.REFRESH_KIND, project_ids=[project])
    assert job.run_after == snapshot.computed_at + timedelta(minutes=10)


def test_a_large_projects_consensus_is_served_from_its_snapshot_with_its_age(
    env: Env, tmp_path: Path
) -> None:
    manager, workers, project = small_project(env)
    answer_all(env, project, workers[:1])
    settings = Settings(data_dir=tmp_path, database_url=env.backend.url,
                        consensus_inline_max_items=0, job_workers=0)
    client = TestClient(
        create_app(settings, database=env.db),
        headers={"Authorization": f"Bearer {env.token_for(manager)}"},
    )
    url = f"/api/v1/projects/{project}/consensus"
    first = client.get(url)
    assert first.status_code == 202
    assert first.json()["kind"] == consensus.REFRESH_KIND
    # Queued once. The shared test server's job runner may already have taken the job,
    # so the second read may be the snapshot itself; either way there is one job.
    again = client.get(url)
    if again.status_code == 202:
        assert again.json()["id"] == first.json()["id"]
    with env.db.read() as conn:
        jobs = job_store.list_jobs(conn, kind=consensus.REFRESH_KIND, project_ids=[project])
    assert [job.id for job in jobs] == [first.json()["id"]]
    _settle(env, _worker(env, tmp_path, consensus.REFRESH_KIND), consensus.REFRESH_KIND)

    fresh = client.get(url)
    assert fresh.status_code == 200
    assert fresh.headers["X-Consensus-Stale"] == "false"
    assert len(fresh.text.splitlines()) == 4

    answer_all(env, project, workers[1:2])
    stale = client.get(url)
    assert stale.status_code == 200
    assert stale.headers["X-Consensus-Stale"] == "true"
    assert stale.headers["X-Consensus-Answers-Behind"] == "4"
    assert stale.text == fresh.text  # not refitted in the request
    assert stale.headers["X-Consensus-Refresh-Job"]
    _settle(env, _worker(env, tmp_path, consensus.REFRESH_KIND), consensus.REFRESH_KIND)
    assert client.get(url).headers["X-Consensus-Stale"] == "false"


def test_only_the_projects_managers_read_its_consensus_snapshot(env: Env) -> None:
    _, workers, project = small_project(env)
    answer_all(env, project, workers[:1])
    response = env.client(workers[0]).get(f"/api/v1/projects/{project}/consensus")
    assert response.status_code == 403
