"""Export jobs over the API: 202 and a job, its status and progress, the file and its card."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from db_fixtures import Env, pairwise_item
from expertloop.app import create_app
from expertloop.client import Client
from expertloop.domain import Role, User
from expertloop.settings import Settings
from expertloop.store import jobs as job_store


def _answered(env: Env, n: int = 6) -> tuple[User, int]:
    from expertloop.services.assignments import next_assignment, submit_answer

    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(2)]
    project = env.project(manager, members=workers, answers_per_item=2)
    env.items(manager, project, [pairwise_item(k) for k in range(n)])
    for worker in workers:  # both prefer the canonical response_a, wherever it is shown
        while (assignment := next_assignment(env.db, actor=worker, project_id=project)):
            choice = "A" if assignment.item.payload["response_a"].startswith("A") else "B"
            submit_answer(env.db, actor=worker, assignment_id=assignment.id,
                          answer={"choice": choice})
    return manager, project


def _finished(client: httpx.Client, job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def test_an_export_job_answers_202_then_serves_the_same_file_as_the_stream_and_a_card(
    env: Env,
) -> None:
    manager, project = _answered(env)
    client = env.client(manager)
    bad = client.post(f"/api/v1/projects/{project}/exports", json={"format": "preference", "license": "not one"})
    assert bad.status_code == 422
    assert "license" in bad.text
    started = client.post(
        f"/api/v1/projects/{project}/exports",
        json={"format": "preference", "license": "cc-by-4.0", "language": ["en"]},
    )
    assert started.status_code == 202
    assert started.json()["kind"] == "export.dataset"
    job = _finished(client, started.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["progress_done"] == job["progress_total"] > 0
    counts = job["result"]["stats"]["counts"]
    # Both workers preferred response_a on all six items: nothing left out.
    assert job["result"]["rows"] == 6
    assert counts["below_chance"] == counts["ties_dropped"] == 0
    file = client.get(f"/api/v1/exports/{job['id']}/file")
    assert file.status_code == 200
    assert file.headers["content-type"].startswith("application/x-ndjson")
    streamed = client.get(f"/api/v1/projects/{project}/exports/preference")
    assert file.content == streamed.content
    card = client.get(f"/api/v1/exports/{job['id']}/card")
    assert card.status_code == 200
    assert "expertloop:" in card.text
    assert "consensus_method" in card.text
    # The card of a job names its file, the trainer, the licence and the language.
    assert f'path: "{job["result"]["file"]}"' in card.text
    assert "DPOTrainer" in card.text
    assert 'license: "cc-by-4.0"' in card.text
    assert 'language: ["en"]' in card.text


def test_export_jobs_and_their_files_are_for_the_projects_managers_only(env: Env) -> None:
    manager, project = _answered(env, 2)
    started = env.client(manager).post(
        f"/api/v1/projects/{project}/exports", json={"format": "sft"}
    )
    assert started.status_code == 422
    assert started.json()["error"]["details"][0]["field"] == "format"
    job = env.client(manager).post(
        f"/api/v1/projects/{project}/exports", json={"format": "preference", "output": "parquet"}
    ).json()
    _finished(env.client(manager), job["id"])
    outsider = env.client(env.user(Role.MANAGER))
    assert outsider.post(
        f"/api/v1/projects/{project}/exports", json={"format": "preference"}
    ).status_code == 404
    assert outsider.get(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert outsider.get(f"/api/v1/exports/{job['id']}/file").status_code == 404
    parquet = env.client(manager).get(f"/api/v1/exports/{job['id']}/file")
    assert parquet.content[:4] == b"PAR1"


def test_a_job_that_has_not_finished_has_no_file_yet_and_can_be_cancelled(env: Env) -> None:
    from expertloop.services.clock import utcnow

    manager, project = _answered(env, 2)
    with env.db.write() as conn:  # queued in the future, so no worker takes it meanwhile
        job, _ = job_store.enqueue_job(
            conn, kind="export.dataset", project_id=project, created_by=manager.id,
            params={"options": {"format": "preference"}, "output": "jsonl"}, now=utcnow(),
            run_after=utcnow().replace(year=2100),
        )
    client = env.client(manager)
    early = client.get(f"/api/v1/exports/{job.id}/file")
    assert early.status_code == 409
    assert "queued" in early.json()["error"]["message"]
    cancelled = client.post(f"/api/v1/jobs/{job.id}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    listed = client.get("/api/v1/jobs", params={"project_id": project}).json()
    assert [j["id"] for j in listed] == [job.id]


def test_the_streaming_export_refuses_projects_above_the_job_threshold(
    env: Env, tmp_path: Path
) -> None:
    manager, project = _answered(env, 3)
    settings = Settings(data_dir=tmp_path, database_url=env.backend.url,
                        export_job_threshold_items=2)
    app = create_app(settings, database=env.db)
    client = TestClient(app, headers={"Authorization": f"Bearer {env.token_for(manager)}"})
    refused = client.get(f"/api/v1/projects/{project}/exports/preference")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "too_large_to_stream"
    assert f"POST /api/v1/projects/{project}/exports" in refused.json()["error"]["message"]


@pytest.mark.parametrize("file_format", ["jsonl"])
def test_the_sdk_exports_through_a_job_and_downloads_file_and_card(
    env: Env, tmp_path: Path, file_format: str
) -> None:
    manager, project = _answered(env)
    with Client(env.url, token=env.token_for(manager)) as client:
        files = client.projects.get(project).export_job(
            tmp_path / "out", "preference", file_format=file_format, poll_seconds=0.05
        )
    assert files.job["status"] == "succeeded"
    # Both workers preferred response_a on every item: one preference row per item.
    assert files.path.read_bytes().count(b"\n") == files.job["result"]["rows"] == 6
    assert files.card.name == "README.md"
    assert "expertloop:" in files.card.read_text()
