"""``expertloop worker`` processes: several take distinct jobs, and an export job survives a
SIGKILL of its worker (another worker finishes it, once, and the file is byte for byte the
file of an uninterrupted run).

The killed export has ``N_ITEMS`` answered items (three answers each), queued through the
job route, which takes projects of any size. A project above the real threshold (100,000
items, beyond which the streaming route refuses and only the job route exports) would take
this test well past 30 s on a shared machine just to build; the job's code path is the same
at 25k items. The refusal above the threshold is tested with a threshold of 2 items
(``tests/api/test_jobs.py``). Each worker process runs on a database of its own, so the
shared test server's in-process job runner cannot take the job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from job_helpers import answered_project

from db_fixtures import BACKENDS, Backend, Env, _create_postgres_database, _drop_postgres_database
from expertloop.services.export_jobs import export_job_directory, start_export_job
from expertloop.services.exports import ExportOptions
from expertloop.settings import Settings
from expertloop.store import Database, upgrade
from expertloop.store import jobs as job_store
from expertloop.store.jobs import JobRow

N_ITEMS = 25_000
EXPERTLOOP = str(Path(sys.executable).with_name("expertloop"))


@pytest.fixture(params=BACKENDS)
def own_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A database of its own: the shared test server's job runner must not take the job."""
    tmp = tmp_path_factory.mktemp(f"sigkill-{request.param}")
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'jobs.db'}"
    else:
        name, url = _create_postgres_database(tmp)
    database = Database(url, pool_size=4)
    try:
        upgrade(database)
        yield Env(Backend(request.param, url, tmp, database))
    finally:
        database.dispose()
        if name is not None:
            _drop_postgres_database(name)


def _worker(env: Env, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    variables = {
        **os.environ,
        "EXPERTLOOP_DATABASE_URL": env.backend.url,
        "EXPERTLOOP_DATA_DIR": str(data_dir),
        "EXPERTLOOP_JOB_LEASE_SECONDS": "0.6",
        "EXPERTLOOP_JOB_POLL_SECONDS": "0.05",
        "EXPERTLOOP_DB_POOL_SIZE": "4",
    }
    with log.open("ab") as sink:  # the child keeps its own descriptor
        return subprocess.Popen(
            [EXPERTLOOP, "worker"], env=variables, stdout=sink, stderr=subprocess.STDOUT
        )


def _job(env: Env, job_id: int) -> JobRow:
    with env.db.read() as conn:
        job = job_store.load_job(conn, job_id)
    assert job is not None
    return job


def _poll(env: Env, job_id: int, done: object, *, timeout: float = 90.0) -> JobRow:
    deadline = time.monotonic() + timeout
    while True:
        job = _job(env, job_id)
        if done(job):  # type: ignore[operator]
            return job
        assert time.monotonic() < deadline, f"timed out waiting on {job}"
        time.sleep(0.02)


def test_an_export_job_killed_mid_way_finishes_once_on_another_worker(
    own_env: Env, tmp_path: Path
) -> None:
    env = own_env
    manager, project = answered_project(env, N_ITEMS)
    options = ExportOptions(format="preference")
    job = start_export_job(env.db, actor=manager, project_id=project, options=options,
                           output="parquet")

    first = _worker(env, tmp_path, tmp_path / "first.log")
    try:
        running = _poll(env, job.id, lambda j: j.status != "queued" and j.progress_done > 0)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    assert running.status == "running", "the export finished before the kill: make it bigger"
    killed = _job(env, job.id)
    assert killed.status == "running"
    assert killed.progress_total is not None
    assert killed.progress_done < killed.progress_total

    second = _worker(env, tmp_path, tmp_path / "second.log")
    try:
        finished = _poll(env, job.id, lambda j: j.status not in ("queued", "running"))
        assert finished.status == "succeeded", finished.error
        assert finished.attempts == 2
        clean_job = start_export_job(env.db, actor=manager, project_id=project,
                                     options=options, output="parquet")
        clean = _poll(env, clean_job.id, lambda j: j.status not in ("queued", "running"))
        assert clean.status == "succeeded", clean.error
        assert clean.attempts == 1
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    settings = Settings(data_dir=tmp_path)
    directory = export_job_directory(settings, job.id)
    assert finished.result is not None
    assert clean.result is not None
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        [finished.result["file"], "README.md"]
    )
    recovered = (directory / finished.result["file"]).read_bytes()
    assert recovered == (export_job_directory(settings, clean.id) / clean.result["file"]).read_bytes()
    assert finished.result["rows"] == clean.result["rows"] > 0
    assert finished.result["sha256"] == clean.result["sha256"]
    assert (directory / "README.md").read_text() == (
        export_job_directory(settings, clean.id) / "README.md"
    ).read_text()


def test_several_worker_processes_take_distinct_jobs_and_run_each_once(
    own_env: Env, tmp_path: Path
) -> None:
    env = own_env
    manager, project = answered_project(env, 200)
    jobs = [
        start_export_job(env.db, actor=manager, project_id=project,
                         options=ExportOptions(format="preference"), output="jsonl")
        for _ in range(12)
    ]
    workers = [_worker(env, tmp_path, tmp_path / f"worker-{k}.log") for k in range(3)]
    try:
        done = [
            _poll(env, job.id, lambda j: j.status not in ("queued", "running"))
            for job in jobs
        ]
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)
    assert [(j.status, j.attempts) for j in done] == [("succeeded", 1)] * len(jobs)
    assert len({j.result["sha256"] for j in done if j.result}) == 1
