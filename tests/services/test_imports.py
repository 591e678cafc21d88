"""Imports by job: the whole file is checked first, then stored a batch per transaction; a
job run again after a crash resumes after the last stored batch and stores no item twice."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from db_fixtures import Env, pairwise_item
from expertloop.domain import ImportStatus, Role
from expertloop.errors import ImportFailed, InputInvalid
from expertloop.jobs import JobContext, JobInterrupted
from expertloop.services import imports
from expertloop.settings import Settings
from expertloop.store import imports as import_store
from expertloop.store import tables as t
from expertloop.store.jobs import JobRow


class CrashingContext(JobContext):
    """A job context whose worker dies (the job is interrupted) at the n-th check."""

    crash_at: int | None = None
    checks: int = 0

    def check(self) -> None:
        self.checks += 1
        if self.crash_at is not None and self.checks >= self.crash_at:
            raise JobInterrupted("the worker died")


def _queued_import(env: Env, settings: Settings, body: bytes) -> tuple[int, int]:
    """An import waiting for its job (made directly, so no server's workers take it)."""
    manager = env.user(Role.MANAGER)
    project = env.project(manager, answers_per_item=1)
    with env.db.write() as conn:
        import_id = import_store.create_import(
            conn, project_id=project, created_by=manager.id, filename="items.jsonl",
            format="ndjson", size_bytes=len(body), status=ImportStatus.QUEUED,
            now=env.db.clock.now(),
        )
    path = imports._job_file(settings, import_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return project, import_id


def _context(env: Env, settings: Settings, import_id: int, crash_at: int | None) -> Any:
    now = env.db.clock.now()
    job = JobRow(
        id=1, kind=imports.IMPORT_KIND, project_id=None, created_by=None, status="running",
        params={"import_id": import_id}, dedupe_key=None, attempts=1, max_attempts=3,
        run_after=now, lease_owner="test", lease_expires_at=None, progress_done=0,
        progress_total=None, result=None, error=None, created_at=now, started_at=now,
        finished_at=None,
    )
    context = CrashingContext(job=job, database=env.db, settings=settings)
    context.crash_at = crash_at
    return context


def _payload_prompts(env: Env, project: int) -> list[str]:
    with env.db.read() as conn:
        rows = conn.execute(select(t.Item.payload).where(t.Item.project_id == project))
        return sorted(r.payload["prompt"] for r in rows)


def test_an_import_job_that_crashes_mid_way_resumes_without_storing_an_item_twice(
    env: Env, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "BATCH", 3)
    settings = Settings(data_dir=tmp_path)
    # No external ids: only the import's own record of its batches keeps them apart.
    records = [{"payload": pairwise_item(n)["payload"]} for n in range(10)]
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    project, import_id = _queued_import(env, settings, body)

    with pytest.raises(JobInterrupted):
        imports.run_import_job(_context(env, settings, import_id, crash_at=3))
    with env.db.read() as conn:
        row = import_store.load_import(conn, import_id)
    assert row is not None
    assert (row.status, row.items_done, row.items_total) == ("importing", 6, 10)
    assert len(_payload_prompts(env, project)) == 6

    result = imports.run_import_job(_context(env, settings, import_id, crash_at=None))
    assert result["items"] == 10
    prompts = _payload_prompts(env, project)
    assert prompts == sorted(f"Question {n}?" for n in range(10))
    with env.db.read() as conn:
        row = import_store.load_import(conn, import_id)
    assert row is not None
    assert row.status == "succeeded"
    assert row.items_done == 10
    assert not imports._job_file(settings, import_id).exists()
    # Run once more (its success was lost): nothing changes.
    imports.run_import_job(_context(env, settings, import_id, crash_at=None))
    assert len(_payload_prompts(env, project)) == 10


def test_an_import_job_stores_nothing_when_any_line_is_invalid(env: Env, tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path)
    body = (json.dumps(pairwise_item(1)) + "\n" + '{"payload": {"prompt": 1}}\n').encode()
    project, import_id = _queued_import(env, settings, body)
    with pytest.raises(ImportFailed, match="line 2"):
        imports.run_import_job(_context(env, settings, import_id, crash_at=None))
    with env.db.read() as conn:
        row = import_store.load_import(conn, import_id)
    assert row is not None
    assert row.status == "rejected"
    assert row.total_errors >= 1
    assert _payload_prompts(env, project) == []


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b'[{"payload": {}}]', "items.jsonl", "json"),
        (b'\xef\xbb\xbf  \n[{"payload": {}}]', "x.txt", "json"),
        (b'{"payload": {}}\n{"payload": {}}\n', "items.json", "ndjson"),
        (b"external_id,prompt\nx,y\n", "items.txt", "csv"),
        (b"prompt\nhello\n", "items.csv", "csv"),
    ],
)
def test_json_and_json_lines_are_detected_by_content(
    head: bytes, name: str, expected: str
) -> None:
    assert imports.detect_format(head, filename=name) == expected


@pytest.mark.parametrize(
    ("head", "field", "message"),
    [
        (b"", "file", "is empty"),
        ("[]".encode("utf-16-le").join([b"\xff\xfe", b""]), "file", "UTF-16"),
        (b"just some words", "format", "cannot tell the format"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_naming_the_field(
    head: bytes, field: str, message: str
) -> None:
    with pytest.raises(InputInvalid, match=message) as caught:
        imports.detect_format(head, filename="f.dat")
    assert caught.value.details[0]["field"] == field


def _answers(env: Env, project: int) -> list[tuple[str, str]]:
    with env.db.read() as conn:
        rows = conn.execute(
            select(t.Item.external_id, t.User.username)
            .select_from(t.Answer)
            .join(t.Item, t.Item.id == t.Answer.item_id)
            .join(t.User, t.User.id == t.Answer.worker_id)
            .where(t.Answer.project_id == project)
        )
        return sorted((r[0], r[1]) for r in rows)


def test_an_import_job_keeps_the_answers_a_file_brings_once_across_a_crash(
    env: Env, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "BATCH", 2)
    settings = Settings(data_dir=tmp_path)
    records = [
        {**pairwise_item(n), "answers": [{"annotator": "7", "value": {"choice": "A"}, "ref": f"a{n}"}]}
        for n in range(5)
    ]
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    project, import_id = _queued_import(env, settings, body)
    with pytest.raises(JobInterrupted):
        imports.run_import_job(_context(env, settings, import_id, crash_at=3))
    imports.run_import_job(_context(env, settings, import_id, crash_at=None))
    assert _answers(env, project) == [(f"item-{n}", "import:7") for n in range(5)]
