"""``expertloop flags``: rules, evaluate, list, reinstate, dismiss, against real databases."""

from __future__ import annotations

import json

from cli_helpers import cli  # noqa: F401 - a fixture

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.services import assignments

LABELS = ["cat", "dog", "bird", "fish"]


def test_the_operator_sets_rules_evaluates_lists_and_reinstates(env: Env, cli) -> None:  # type: ignore[no-untyped-def]
    manager = env.user(Role.MANAGER, username="mona")
    env.user(Role.ADMIN, username="root")
    worker = env.user(username="sam")
    project = env.project(manager, task_type="label", config={"labels": LABELS},
                          members=[worker], answers_per_item=1)
    env.items(manager, project, [{"payload": {"text": f"t{k}"}, "gold": {"label": "cat"}}
                                 for k in range(12)])
    while lease := assignments.next_assignment(env.db, actor=worker, project_id=project):
        assignments.submit_answer(env.db, actor=worker, assignment_id=lease.id,
                                  answer={"label": "dog"})

    bad = cli("flags", "rules", str(project), "--set", '{"gold_accuracy": {"threshold": 7}}')
    assert bad.exit_code == 1
    assert "threshold" in bad.output
    shown = cli("flags", "rules", str(project), "--set", '{"gold_accuracy": {"min_answers": 10}}')
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["gold_accuracy"]["min_answers"] == 10

    evaluated = cli("flags", "evaluate", str(project))
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["pausing"] == 1

    listed = cli("flags", "list", str(project))
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [(r["worker"], r["rule"], r["worker_paused"]) for r in rows] == [
        ("sam", "gold_accuracy", True)]
    assert "gold accuracy 0.07" in rows[0]["message"]

    reinstated = cli("flags", "reinstate", str(project), "sam", "--note", "retrained",
                     "--as", "mona")
    assert reinstated.exit_code == 0, reinstated.output
    assert json.loads(reinstated.output)["resolved_flags"] == [rows[0]["id"]]
    assert cli("flags", "list", str(project)).output == ""
    missing = cli("flags", "dismiss", str(project), str(rows[0]["id"]))
    assert missing.exit_code == 1
    assert "already resolved" in missing.output
