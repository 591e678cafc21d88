"""Adaptive redundancy's audit sample on new items, on both databases: an item the audit
sample picks gets its audited target (one answer more than ``min_answers``) in the
transaction that creates it, before any answer or re-target, however it was created (the
items service, a file imported now, an import job); the others start at ``min_answers``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_imports import _context

from db_fixtures import Env
from expertloop.domain import Role, User
from expertloop.quality.redundancy import is_audited
from expertloop.services import imports, redundancy
from expertloop.settings import Settings
from expertloop.store import tables as t

LABELS = ["x", "y"]


def _adaptive(env: Env, manager: User, share: float) -> int:
    project = env.project(
        manager, task_type="label", config={"labels": LABELS}, answers_per_item=3
    )
    redundancy.set_redundancy(
        env.db, actor=manager, project_id=project, min_answers=1, max_answers=4,
        target_confidence=0.9, audit_share=share,
    )
    return project


def _records(n: int) -> list[dict[str, Any]]:
    return [{"external_id": f"i{k}", "payload": {"text": f"thing {k}"}} for k in range(n)]


def _targets(env: Env, project: int) -> dict[int, tuple[int, int, int]]:
    """Each item's (target, open slots, answers), by id."""
    with env.db.read() as conn:
        rows = conn.execute(
            select(t.Item.id, t.Item.target, t.Item.open_slots, t.Item.n_answers).where(
                t.Item.project_id == project
            )
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


@pytest.mark.parametrize(("share", "target"), [(1.0, 2), (0.0, 1)])
def test_imported_items_start_at_their_audited_target(
    env: Env, share: float, target: int
) -> None:
    manager = env.user(Role.MANAGER)
    project = _adaptive(env, manager, share)
    assert env.items(manager, project, _records(12)) == 12
    assert set(_targets(env, project).values()) == {(target, target, 0)}


def test_only_the_items_the_audit_sample_picks_get_the_extra_answer(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = _adaptive(env, manager, 0.5)
    env.items(manager, project, _records(40))
    targets = _targets(env, project)
    want = {i: (2 if is_audited(project, i, 0.5) else 1) for i in targets}
    assert {i: v[0] for i, v in targets.items()} == want
    assert 0 < sum(v == 2 for v in want.values()) < 40  # both kinds are there


def test_gold_items_are_not_in_the_audit_sample(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = _adaptive(env, manager, 1.0)
    env.items(manager, project, [
        {"external_id": "g", "payload": {"text": "known"}, "gold": {"label": "x"}},
        {"external_id": "n", "payload": {"text": "unknown"}},
    ])
    with env.db.read() as conn:
        rows = dict(conn.execute(
            select(t.Item.external_id, t.Item.target).where(t.Item.project_id == project)
        ).all())
    assert rows == {"g": 1, "n": 2}


def test_a_file_imported_now_and_by_a_job_start_at_the_audited_target(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path)
    body = "".join(json.dumps(r) + "\n" for r in _records(7)).encode()
    manager = env.user(Role.MANAGER)
    now_project = _adaptive(env, manager, 1.0)
    upload = imports.new_upload_path(settings)
    upload.write_bytes(body)
    view = imports.import_upload(
        env.db, settings, actor=manager, project_id=now_project, path=upload,
        filename="items.jsonl",
    )
    assert (view.job, view.row.status) == (None, "succeeded")  # small: stored now
    assert set(_targets(env, now_project).values()) == {(2, 2, 0)}

    monkeypatch.setattr(imports, "BATCH", 3)  # several batches, each its own transaction
    job_project = _adaptive(env, manager, 1.0)
    upload = imports.new_upload_path(settings)
    upload.write_bytes(body)
    view = imports.import_upload(
        env.db, settings, actor=manager, project_id=job_project, path=upload,
        filename="items.jsonl", background=True,
    )
    imports.run_import_job(_context(env, settings, view.row.id, crash_at=None))
    targets = _targets(env, job_project)
    assert len(targets) == 7
    assert set(targets.values()) == {(2, 2, 0)}
