"""``expertloop constitution ...`` against real databases: the draft, versions, exports and
diffs; proposals and decisions; the panel's votes; a grading project's statistics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cli_helpers import cli  # noqa: F401 - a fixture

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.services import assignments, constitution_grading, constitutions


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def _made(cli: Any, env: Env) -> int:  # type: ignore[no-untyped-def]
    env.user(Role.MANAGER, username="mona")
    made = _ok(cli("constitution", "create", "Helpful and harmless", "--description", "v",
                   "--as", "mona"))
    cid = int(json.loads(made.stdout)["id"])
    _ok(cli("constitution", "principle", "set", str(cid), "harmless-1", "--title", "No harm",
            "--text", "Refuse to help with harm.", "--violates", "Here is how.",
            "--violates", "Sure, step one.", "--as", "mona"))
    _ok(cli("constitution", "principle", "set", str(cid), "honest-1", "--title", "Honesty",
            "--text", "Say what you do not know.", "--as", "mona"))
    return cid


def test_a_manager_drafts_publishes_exports_and_diffs(cli, env: Env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cid = _made(cli, env)
    shown = json.loads(_ok(cli("constitution", "show", str(cid), "--json", "--as", "mona")).stdout)
    assert [p["key"] for p in shown["principles"]] == ["harmless-1", "honest-1"]
    assert shown["principles"][0]["violation_examples"] == ["Here is how.", "Sure, step one."]
    published = json.loads(_ok(cli("constitution", "publish", str(cid), "--note", "first",
                                   "--as", "mona")).stdout)
    assert (published["version"], published["note"]) == (1, "first")
    _ok(cli("constitution", "principle", "remove", str(cid), "honest-1", "--as", "mona"))
    _ok(cli("constitution", "publish", str(cid), "--as", "mona"))

    listed = _ok(cli("constitution", "list", "--as", "mona")).stdout
    assert "Helpful and harmless" in listed
    table = _ok(cli("constitution", "show", str(cid), "--version", "1", "--as", "mona")).stdout
    assert "honest-1" in table
    assert "version 1" in table
    versions = json.loads(_ok(cli("constitution", "versions", str(cid), "--json",
                                  "--as", "mona")).stdout)
    assert [v["version"] for v in versions] == [1, 2]
    assert "first" in _ok(cli("constitution", "versions", str(cid), "--as", "mona")).stdout

    markdown = _ok(cli("constitution", "export", str(cid), "1", "--as", "mona")).stdout
    assert markdown.startswith("# Helpful and harmless")
    assert "`honest-1`" in markdown
    target = tmp_path / "v2.json"
    _ok(cli("constitution", "export", str(cid), "2", "--format", "json", "-o", str(target),
            "--as", "mona"))
    document = json.loads(target.read_text(encoding="utf-8"))
    assert (document["version"], [p["key"] for p in document["principles"]]) == (
        2, ["harmless-1"])

    changes = json.loads(_ok(cli("constitution", "diff", str(cid), "--from", "1", "--to", "2",
                                 "--json", "--as", "mona")).stdout)
    assert [(c["key"], c["change"]) for c in changes] == [("honest-1", "removed")]
    assert "removed honest-1" in _ok(cli("constitution", "diff", str(cid), "--from", "1",
                                         "--to", "2", "--as", "mona")).stdout


def test_bad_arguments_exit_with_2_and_refusals_with_1(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    cid = _made(cli, env)
    env.user(Role.WORKER, username="wes")
    assert cli("constitution", "diff", str(cid), "--as", "mona").exit_code == 2
    assert cli("constitution", "export", str(cid), "1", "--format", "pdf",
               "--as", "mona").exit_code == 2
    assert cli("constitution", "vote", "1", "maybe", "--as", "wes").exit_code == 2
    assert cli("constitution", "propose", str(cid), "add", "new-1", "--reason", "r",
               "--as", "wes").exit_code == 2
    refused = cli("constitution", "publish", str(cid), "--as", "wes")
    assert refused.exit_code == 1
    assert "error" in refused.output
    missing = cli("constitution", "export", str(cid), "9", "--as", "mona")
    assert missing.exit_code == 1
    assert "has no version 9" in missing.output
    bad_key = cli("constitution", "principle", "set", str(cid), "Bad Key", "--title", "t",
                  "--text", "x", "--as", "mona")
    assert bad_key.exit_code == 1
    assert "key" in bad_key.output


def test_experts_propose_and_a_reviewer_decides(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    cid = _made(cli, env)
    env.user(Role.WORKER, username="wes")
    env.user(Role.REVIEWER, username="rita")
    added = json.loads(_ok(cli(
        "constitution", "propose", str(cid), "add", "kind-1", "--reason", "kindness is missing",
        "--title", "Kindness", "--text", "Be kind.", "--as", "wes")).stdout)
    removal = json.loads(_ok(cli("constitution", "propose", str(cid), "remove", "honest-1",
                                 "--reason", "redundant", "--as", "wes")).stdout)
    assert (added["kind"], added["status"], added["principle"]["text"]) == (
        "add", "open", "Be kind.")
    assert removal["principle"] is None
    assert cli("constitution", "decide", str(added["id"]), "accept",
               "--as", "wes").exit_code == 1
    decided = json.loads(_ok(cli("constitution", "decide", str(added["id"]), "accept",
                                 "--note", "agreed", "--as", "rita")).stdout)
    assert (decided["status"], decided["decision_note"]) == ("accepted", "agreed")
    _ok(cli("constitution", "decide", str(removal["id"]), "reject", "--as", "rita"))
    open_now = json.loads(_ok(cli("constitution", "proposals", str(cid), "--status", "open",
                                  "--json", "--as", "rita")).stdout)
    assert open_now == []
    table = _ok(cli("constitution", "proposals", str(cid), "--as", "rita")).stdout
    assert "kindness is missing" in table
    assert "rejected" in table
    shown = json.loads(_ok(cli("constitution", "show", str(cid), "--json", "--as", "wes")).stdout)
    assert [p["key"] for p in shown["principles"]] == ["harmless-1", "honest-1", "kind-1"]


def test_the_panel_votes_and_the_manager_reads_the_groups(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    cid = _made(cli, env)
    ids = [json.loads(_ok(cli("constitution", "statements", "add", str(cid), f"Statement {n}",
                              "--as", "mona")).stdout)["id"] for n in range(3)]
    for v in range(4):
        env.user(Role.WORKER, username=f"voter-{v}")
        for n, statement in enumerate(ids):
            choice = "agree" if n == 0 or v < 2 else "disagree"
            _ok(cli("constitution", "vote", str(statement), choice, "--as", f"voter-{v}"))
    _ok(cli("constitution", "vote", str(ids[1]), "pass", "--as", "voter-0"))
    mine = json.loads(_ok(cli("constitution", "statements", "list", str(cid), "--json",
                              "--as", "voter-0")).stdout)
    assert [s["my_vote"] for s in mine] == ["agree", "pass", "agree"]
    assert [s["agree"] for s in mine] == [4, 1, 2]
    assert "Statement 2" in _ok(cli("constitution", "statements", "list", str(cid),
                                    "--as", "mona")).stdout
    assert cli("constitution", "groups", str(cid), "--as", "voter-0").exit_code == 1
    found = json.loads(_ok(cli("constitution", "groups", str(cid), "--json",
                               "--as", "mona")).stdout)
    assert found["voters"] == 4
    first = found["statements"][0]
    assert (first["statement_id"], first["support"]) == (ids[0], 5 / 6)
    assert first["consensus"]
    table = _ok(cli("constitution", "groups", str(cid), "--as", "mona")).stdout
    assert "4 voters" in table
    assert "consensus" in table


def _grade(verdict: str) -> dict[str, Any]:
    return {"verdict": verdict, **({"severity": 2} if verdict == "fail" else {})}


def test_stats_show_alpha_with_its_interval_and_the_unclear_principles(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    manager = env.user(Role.MANAGER, username="mona")
    made = constitutions.create_constitution(env.db, actor=manager, name="G")
    for key in ("clear", "vague"):
        constitutions.put_principle(env.db, actor=manager, constitution_id=made.id,
                                    principle=constitutions.principle_from_input(
                                        key=key, title=key, text=f"Be {key}."))
    constitutions.publish(env.db, actor=manager, constitution_id=made.id)
    project = constitution_grading.grading_project(
        env.db, actor=manager, constitution_id=made.id, version=1, name="P").id
    workers = [env.user() for _ in range(3)]
    env.client(manager).post(f"/api/v1/projects/{project}/members",
                             json={"user_ids": [w.id for w in workers]})
    env.items(manager, project, [{"payload": {"prompt": f"Q{n}", "response": "R"}}
                                 for n in range(6)])
    vague = {0: "pass", 1: "fail", 2: "pass"}
    for w, worker in enumerate(workers):
        while lease := assignments.next_assignment(env.db, actor=worker, project_id=project):
            n = int(str(lease.item.payload["prompt"])[1:])
            assignments.submit_answer(env.db, actor=worker, assignment_id=lease.id, answer={
                "grades": {"clear": _grade("pass" if n % 2 else "fail"),
                           "vague": _grade(vague[(w + n) % 3])}})
    found = json.loads(_ok(cli("constitution", "stats", str(project), "--json",
                               "--as", "mona")).stdout)
    assert found["unclear"] == ["vague"]
    by_key = {s["key"]: s for s in found["principles"]}
    assert (by_key["clear"]["alpha"], by_key["clear"]["coverage"]) == (1.0, 6)
    assert by_key["vague"]["alpha_low"] <= by_key["vague"]["alpha"] <= by_key["vague"][
        "alpha_high"]
    table = _ok(cli("constitution", "stats", str(project), "--as", "mona")).stdout
    assert "Unclear (alpha below 0.667, amend them): vague" in table
    assert " to " in table  # the interval
