"""``expertloop jobs list|show|cancel``: jobs as NDJSON / JSON, cancelling, and refusals."""

from __future__ import annotations

import json

from cli_helpers import cli  # noqa: F401 - a fixture

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.services.clock import utcnow
from expertloop.store import jobs as job_store


def _queued(env: Env, project: int | None = None) -> int:
    with env.db.write() as conn:  # due in the future: no worker takes it meanwhile
        job, _ = job_store.enqueue_job(
            conn, kind="export.dataset", params={"output": "jsonl"}, now=utcnow(),
            project_id=project, run_after=utcnow().replace(year=2100),
        )
    return job.id


def test_jobs_list_show_and_cancel_act_on_the_jobs_table(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    env.user(Role.ADMIN, username="root")
    first, second = _queued(env), _queued(env)
    listed = cli("jobs", "list", "--kind", "export.dataset")
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["id"] for r in rows] == [second, first]
    assert {r["status"] for r in rows} == {"queued"}
    assert "lease_owner" not in rows[0]

    shown = cli("jobs", "show", str(first))
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["id"] == first

    cancelled = cli("jobs", "cancel", str(first))
    assert cancelled.exit_code == 0, cancelled.output
    assert f"job {first} is cancelled" in cancelled.stderr
    assert [json.loads(line)["id"] for line in cli("jobs", "list", "--status", "cancelled").stdout.splitlines()] == [first]


def test_jobs_commands_refuse_unknown_jobs_statuses_and_other_peoples_jobs(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    env.user(Role.ADMIN, username="root")
    manager = env.user(Role.MANAGER, username="mgr")
    other = env.project(env.user(Role.MANAGER))
    job = _queued(env, other)
    missing = cli("jobs", "show", "999999")
    assert missing.exit_code == 1
    assert "job 999999 not found" in missing.stderr
    assert cli("jobs", "show", str(job), "--as", manager.username).exit_code == 1
    assert cli("jobs", "cancel", str(job), "--as", manager.username).exit_code == 1
    assert cli("jobs", "list", "--as", manager.username).stdout == ""
    bad = cli("jobs", "list", "--status", "sleeping")
    assert bad.exit_code == 1
    assert "unknown job status 'sleeping'" in bad.stderr
