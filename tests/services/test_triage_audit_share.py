"""Triage and the audit share set together (``update_llm_settings(..., audit_share=)``):
every value checked before anything is written, both written in one transaction or
neither, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.errors import InputInvalid
from expertloop.services import llm, redundancy
from expertloop.store import redundancy as redundancy_store
from expertloop.store import tables as t


def _events(env: Env, project: int) -> list[tuple[str, Any]]:
    with env.db.read() as conn:
        rows = conn.execute(
            select(t.AuditEvent.action, t.AuditEvent.after)
            .where(t.AuditEvent.project_id == project,
                   t.AuditEvent.action.in_(["llm.settings_changed",
                                            "project.redundancy_updated"]))
            .order_by(t.AuditEvent.id)
        )
        return [(r[0], r[1]) for r in rows]


def test_triage_and_the_audit_share_change_together_or_not_at_all(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config={"labels": ["x", "y"]})
    llm.add_provider(env.db, actor=None, name="judge-x", base_url="http://127.0.0.1:9/v1",
                     model="m", max_retries=0)
    redundancy.set_redundancy(env.db, actor=manager, project_id=project, min_answers=1,
                              max_answers=4, target_confidence=0.9)
    settings = redundancy.get_redundancy(env.db, actor=manager, project_id=project)
    assert settings is not None
    history = _events(env, project)

    def unchanged() -> None:
        assert redundancy.get_redundancy(env.db, actor=manager, project_id=project) == settings
        got = llm.get_llm_settings(env.db, actor=manager, project_id=project)
        assert (got.triage, got.audit_share) == (None, 0.0)
        assert _events(env, project) == history

    def refused(field: str, **changes: Any) -> str:
        with pytest.raises(InputInvalid) as caught:
            llm.update_llm_settings(env.db, actor=manager, project_id=project, **changes)
        assert caught.value.details[0]["field"] == field, caught.value.details
        unchanged()
        return caught.value.message

    # A bad share with a good rule, a bad rule with a good share: nothing changes.
    refused("audit_share", triage={"judges": ["judge-x"]}, audit_share=1.5)
    refused("audit_share", triage={"judges": ["judge-x"]}, audit_share="a tenth")
    assert "unknown judge 'nobody'" in refused(
        "triage.judges[0]", triage={"judges": ["nobody"]}, audit_share=0.2
    )
    # The second write fails after the first: the first is rolled back with it.
    real = redundancy_store.save_settings

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr(redundancy_store, "save_settings", broken)
    with pytest.raises(RuntimeError, match="disk filled up"):
        llm.update_llm_settings(env.db, actor=manager, project_id=project,
                                triage={"judges": ["judge-x"]}, audit_share=0.2)
    monkeypatch.setattr(redundancy_store, "save_settings", real)
    unchanged()
    # Both, at once.
    done = llm.update_llm_settings(env.db, actor=manager, project_id=project,
                                   triage={"judges": ["judge-x"]}, audit_share=0.2)
    assert (done.triage, done.audit_share) == ({"judges": ["judge-x"]}, 0.2)
    after = redundancy.get_redundancy(env.db, actor=manager, project_id=project)
    assert after is not None
    assert after.as_dict() == {**settings.as_dict(), "audit_share": 0.2}
    assert _events(env, project)[len(history):] == [
        ("llm.settings_changed", {"show_verdicts": False, "triage": {"judges": ["judge-x"]}}),
        ("project.redundancy_updated", after.as_dict()),
    ]
    # The share alone: triage stays, and only the share's change is recorded.
    alone = llm.update_llm_settings(env.db, actor=manager, project_id=project,
                                    audit_share=0.3)
    assert (alone.triage, alone.audit_share) == ({"judges": ["judge-x"]}, 0.3)
    assert [a for a, _ in _events(env, project)[len(history) + 2:]] == [
        "project.redundancy_updated"
    ]


def test_an_audit_share_needs_adaptive_redundancy(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config={"labels": ["x", "y"]})
    with pytest.raises(InputInvalid) as caught:
        llm.update_llm_settings(env.db, actor=manager, project_id=project,
                                show_verdicts=True, audit_share=0.1)
    assert caught.value.details[0]["field"] == "audit_share"
    assert "adaptive redundancy" in caught.value.message
    got = llm.get_llm_settings(env.db, actor=manager, project_id=project)
    assert (got.show_verdicts, got.audit_share) == (False, None)
    assert _events(env, project) == []
