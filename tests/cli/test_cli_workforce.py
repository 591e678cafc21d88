"""``expertloop user skills|credentials`` and ``expertloop project workforce|exam-results|gold``."""

from __future__ import annotations

import json

from cli_helpers import cli  # noqa: F401 - a fixture

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role


def test_the_operator_sets_skills_and_records_and_verifies_credentials(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    env.user(Role.WORKER, username="wren")
    done = cli("user", "skills", "set", "wren", "medicine=3", "law=1")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"medicine": 3, "law": 1}
    bad = cli("user", "skills", "set", "wren", "medicine=9")
    assert bad.exit_code == 1
    assert "skills.medicine" in bad.stderr or "0 to 5" in bad.stderr
    added = cli(
        "user", "credentials", "add", "wren", "--kind", "licence", "--title", "Bar licence",
        "--evidence", "Registry",
    )
    assert added.exit_code == 0, added.output
    credential = json.loads(added.stdout)
    assert credential["verified"] is False
    verified = cli("user", "credentials", "verify", "wren", str(credential["id"]))
    assert json.loads(verified.stdout)["verified"] is True
    listed = [json.loads(line) for line in cli("user", "credentials", "list", "wren").stdout.splitlines()]
    assert [c["title"] for c in listed] == ["Bar licence"]
    shown = json.loads(cli("user", "skills", "show", "wren").stdout)
    assert shown["skills"] == {"law": 1, "medicine": 3}
    assert cli("user", "credentials", "remove", "wren", str(credential["id"])).exit_code == 0
    assert cli("user", "credentials", "list", "wren").stdout == ""


def test_the_operator_sets_a_projects_workforce_and_reads_exam_results_and_gold(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    manager = env.user(Role.MANAGER)
    env.user(Role.ADMIN, username="root")
    exam = env.project(manager)
    env.items(manager, exam, [pairwise_item(1, gold={"choice": "A"})])
    project = env.project(manager)
    done = cli(
        "project", "workforce", "set", str(project), "--require", "medicine=2",
        "--exam", str(exam), "--pass-mark", "0.7", "--gold-share", "0.2", "--escalate",
    )
    assert done.exit_code == 0, done.output
    settings = json.loads(done.stdout)
    assert settings["required_skills"] == {"medicine": 2}
    assert settings["qualification"]["pass_mark"] == 0.7
    assert settings["gold_share"] == 0.2
    assert settings["escalate"] is True
    shown = json.loads(cli("project", "workforce", "show", str(exam)).stdout)
    assert shown["is_exam"] is True
    refused = cli("project", "workforce", "set", str(project), "--exam", str(project))
    assert refused.exit_code == 1
    assert cli("project", "exam-results", str(project)).stdout == ""
    assert cli("project", "gold", str(project)).exit_code == 0
    cleared = json.loads(
        cli("project", "workforce", "set", str(project), "--no-exam", "--no-requirements").stdout
    )
    assert cleared["qualification"] is None
    assert cleared["required_skills"] == {}
