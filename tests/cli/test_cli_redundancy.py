"""``expertloop project redundancy show|set|off|workers``."""

from __future__ import annotations

import json

from cli_helpers import cli  # noqa: F401 - a fixture

from db_fixtures import Env, audit_events
from expertloop.domain import Role
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.services.redundancy_jobs import fit_model


def _updates(env: Env, project: int) -> int:
    return audit_events(env, project, "project.redundancy_updated")


def test_the_operator_sets_shows_and_turns_off_adaptive_redundancy(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    manager, worker = env.user(Role.MANAGER), env.user(username="wren")
    project = env.project(manager, task_type="label", config={"labels": ["a", "b"]},
                          members=[worker])
    env.items(manager, project, [{"external_id": "i", "payload": {"text": "t"}}])
    assert json.loads(cli("project", "redundancy", "show", str(project)).stdout) == {
        "adaptive": False
    }
    done = cli("project", "redundancy", "set", str(project), "--min-answers", "2",
               "--max-answers", "6", "--target-confidence", "0.95", "--audit-share", "0.25")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {
        "adaptive": True, "min_answers": 2, "max_answers": 6, "target_confidence": 0.95,
        "audit_share": 0.25,
    }
    assert json.loads(cli("project", "redundancy", "show", str(project)).stdout)[
        "audit_share"] == 0.25
    # The same settings again change nothing: no second audit event.
    same = cli("project", "redundancy", "set", str(project), "--min-answers", "2",
               "--max-answers", "6", "--target-confidence", "0.95", "--audit-share", "0.25")
    assert same.exit_code == 0, same.output
    assert json.loads(same.stdout) == json.loads(done.stdout)
    assert _updates(env, project) == 1
    too_much = cli("project", "redundancy", "set", str(project), "--audit-share", "2")
    assert too_much.exit_code == 1
    assert "audit_share" in too_much.stderr
    bad = cli("project", "redundancy", "set", str(project), "--min-answers", "9",
              "--max-answers", "3")
    assert bad.exit_code == 1
    assert "max_answers" in bad.stderr
    lease = next_assignment(env.db, actor=worker, project_id=project)
    assert lease is not None
    submit_answer(env.db, actor=worker, assignment_id=lease.id, answer={"label": "a"})
    fit_model(env.db, project)
    listed = [json.loads(line) for line in
              cli("project", "redundancy", "workers", str(project)).stdout.splitlines()]
    assert [(r["username"], r["answers"]) for r in listed] == [("wren", 1)]
    assert cli("project", "redundancy", "off", str(project)).exit_code == 0
    assert json.loads(cli("project", "redundancy", "show", str(project)).stdout) == {
        "adaptive": False
    }
    assert cli("project", "redundancy", "show", "999999").exit_code == 1


def test_the_operator_turns_triage_on_and_off(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    from expertloop.services import llm

    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config={"labels": ["a", "b"]})
    llm.add_provider(env.db, actor=None, name="judge-x", base_url="http://127.0.0.1:9/v1",
                     model="m", max_retries=0)
    shown = json.loads(cli("llm", "triage", str(project)).stdout)
    assert (shown["rule"], shown["applied"]) == (None, False)
    early = cli("llm", "triage", str(project), "--judge", "judge-x")
    assert early.exit_code == 1
    assert "adaptive redundancy" in early.stderr
    assert cli("project", "redundancy", "set", str(project), "--min-answers", "1",
               "--audit-share", "0.1").exit_code == 0
    unknown = cli("llm", "triage", str(project), "--judge", "nobody")
    assert unknown.exit_code == 1
    assert "unknown judge 'nobody'" in unknown.stderr
    on = cli("llm", "triage", str(project), "--judge", "judge-x")
    assert on.exit_code == 0, on.output
    assert json.loads(on.stdout)["judges"] == ["judge-x"]
    assert json.loads(on.stdout)["applied"] is True
    assert json.loads(on.stdout)["policy"]["audit_share"] == 0.1
    off = cli("llm", "triage", str(project), "--off")
    assert json.loads(off.stdout)["applied"] is False


def test_llm_triage_sets_the_audit_share_keeping_the_other_settings(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    from expertloop.services import llm, redundancy

    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config={"labels": ["a", "b"]})
    llm.add_provider(env.db, actor=None, name="judge-x", base_url="http://127.0.0.1:9/v1",
                     model="m", max_retries=0)

    def settings() -> dict[str, object] | None:
        found = redundancy.get_redundancy(env.db, actor=None, project_id=project)
        return None if found is None else found.as_dict()

    early = cli("llm", "triage", str(project), "--audit-share", "0.1")
    assert early.exit_code == 1
    assert "adaptive redundancy" in early.stderr
    assert settings() is None
    assert cli("project", "redundancy", "set", str(project), "--min-answers", "1",
               "--max-answers", "4", "--target-confidence", "0.9").exit_code == 0
    on = cli("llm", "triage", str(project), "--judge", "judge-x", "--audit-share", "0.1")
    assert on.exit_code == 0, on.output
    shown = json.loads(on.stdout)
    assert (shown["judges"], shown["applied"]) == (["judge-x"], True)
    want = {"min_answers": 1, "max_answers": 4, "target_confidence": 0.9, "audit_share": 0.1}
    assert shown["policy"] == want
    assert settings() == want
    # A bad share, or a bad judge with a good share, changes nothing.
    for args in (["--audit-share", "1.5"], ["--judge", "nobody", "--audit-share", "0.3"]):
        bad = cli("llm", "triage", str(project), *args)
        assert bad.exit_code == 1
        assert ("audit_share" if "1.5" in args else "unknown judge") in bad.stderr
        assert settings() == want
        assert json.loads(cli("llm", "triage", str(project)).stdout)["judges"] == ["judge-x"]
    alone = cli("llm", "triage", str(project), "--audit-share", "0.2")
    assert alone.exit_code == 0, alone.output
    assert json.loads(alone.stdout)["judges"] == ["judge-x"]
    assert settings() == {**want, "audit_share": 0.2}
    off = cli("llm", "triage", str(project), "--off", "--audit-share", "0")
    assert off.exit_code == 0, off.output
    assert json.loads(off.stdout)["applied"] is False
    assert settings() == {**want, "audit_share": 0.0}


def test_llm_triage_with_a_share_is_one_change_a_failure_leaves_both_as_they_were(  # type: ignore[no-untyped-def]
    cli, env: Env, monkeypatch
) -> None:
    from expertloop.services import llm, redundancy
    from expertloop.store import redundancy as redundancy_store

    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config={"labels": ["a", "b"]})
    llm.add_provider(env.db, actor=None, name="judge-x", base_url="http://127.0.0.1:9/v1",
                     model="m", max_retries=0)
    assert cli("project", "redundancy", "set", str(project), "--min-answers", "1").exit_code == 0

    def state() -> tuple[object, object]:
        found = redundancy.get_redundancy(env.db, actor=None, project_id=project)
        assert found is not None
        return llm.get_llm_settings(env.db, actor=manager, project_id=project).triage, (
            found.audit_share
        )

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk filled up")

    # The share's write fails after triage's: triage is not turned on either.
    monkeypatch.setattr(redundancy_store, "save_settings", broken)
    failed = cli("llm", "triage", str(project), "--judge", "judge-x", "--audit-share", "0.1")
    monkeypatch.undo()
    assert failed.exit_code != 0
    assert isinstance(failed.exception, RuntimeError)
    assert state() == (None, 0.0)
    done = cli("llm", "triage", str(project), "--judge", "judge-x", "--audit-share", "0.1")
    assert done.exit_code == 0, done.output
    assert state() == ({"judges": ["judge-x"]}, 0.1)


def test_the_operator_replays_a_projects_answers_at_several_targets(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    from expertloop.services.redundancy_replay import replay_project

    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(3)]
    project = env.project(manager, task_type="label", config={"labels": ["a", "b"]},
                          members=workers, answers_per_item=3)
    empty = cli("project", "redundancy", "replay", str(project))
    assert empty.exit_code == 1
    assert "no answers to replay" in empty.stderr
    env.items(manager, project, [
        {"external_id": str(k), "payload": {"text": str(k)},
         **({"gold": {"label": "ab"[k % 2]}} if k < 2 else {})} for k in range(6)
    ])
    # Two workers give each item's class ("a" on even items), the third errs on two.
    for n, worker in enumerate(workers):
        while (lease := next_assignment(env.db, actor=worker, project_id=project)) is not None:
            k = int(lease.item.payload["text"])
            label = "ab"[(k + (n == 2 and k in (0, 3))) % 2]
            submit_answer(env.db, actor=worker, assignment_id=lease.id, answer={"label": label})
    args = ("project", "redundancy", "replay", str(project), "--targets", "0.9,0.999",
            "--min-answers", "2", "--max-answers", "3", "--seeds", "2")
    done = cli(*args, "--json")
    assert done.exit_code == 0, done.output
    want = replay_project(env.db, actor=None, project_id=project, targets=[0.9, 0.999],
                          min_answers=2, max_answers=3, seeds=2)
    assert json.loads(done.stdout) == json.loads(json.dumps(want.as_dict()))
    assert want.gold_items == 2
    table = cli(*args)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert "never uses more answers than it has" in table.stdout
    assert "gold delta" in table.stdout
    for row in want.targets:
        line = next(x for x in lines if x.split()[:1] == [f"{row.target_confidence:g}"])
        assert f"{row.answers_used:.1f}/18" in line
        assert f"{100 * row.saving:.1f}%" in line
    for bad in ("0.99,abc", "1", "0.99,0", "0.2", ""):
        refused = cli("project", "redundancy", "replay", str(project), "--targets", bad)
        assert refused.exit_code == 1, bad
        assert "--targets" in refused.stderr
    assert cli(*args[:4], "--seeds", "0").exit_code == 1
    upside = cli(*args[:4], "--min-answers", "4", "--max-answers", "2")
    assert upside.exit_code == 1
    assert "max_answers" in upside.stderr
    free = env.project(manager, task_type="demonstration")
    no_classes = cli("project", "redundancy", "replay", str(free))
    assert no_classes.exit_code == 1
    assert "pick a class" in no_classes.stderr
    assert cli("project", "redundancy", "replay", "999999").exit_code == 1
