"""The judges over HTTP: start a run, follow its job, read verdicts, calibration and
settings; a worker reads verdicts only when the project shows them."""

from __future__ import annotations

from pathlib import Path

from test_judges import add_provider, fair_judge, pairwise_project, run_jobs

from db_fixtures import Env
from expertloop.domain import Role
from llm_server import ChatServer, Reply


def test_a_manager_runs_a_judge_and_reads_verdicts_and_calibration_over_http(
    env: Env, chat_server: ChatServer, tmp_path: Path
) -> None:
    chat_server.reply = fair_judge
    worker = env.user()
    manager, project, ids = pairwise_project(env, n=4, members=[worker])
    add_provider(env, chat_server)
    client = env.client(manager)
    bad = client.post(f"/api/v1/projects/{project}/judge-runs", json={"provider": "nope"})
    assert bad.status_code == 404
    started = client.post(f"/api/v1/projects/{project}/judge-runs", json={"provider": "judge-x"})
    assert started.status_code == 202, started.text
    assert started.json()["kind"] == "llm.judge"
    run_jobs(env, tmp_path)
    verdicts = client.get(f"/api/v1/projects/{project}/verdicts", params={"limit": 2}).json()
    assert [v["item_id"] for v in verdicts] == ids[:2]
    rest = client.get(
        f"/api/v1/projects/{project}/verdicts", params={"after_item_id": ids[1]}
    ).json()
    assert [v["item_id"] for v in rest] == ids[2:]
    calibration = client.get(f"/api/v1/projects/{project}/calibration").json()
    overall = next(r for r in calibration["rows"] if r["key"] == "overall")
    assert (overall["n"], overall["accuracy"], overall["gold_items"]) == (4, 1.0, 4)

    worker_client = env.client(worker)
    assert worker_client.get(f"/api/v1/projects/{project}/verdicts").status_code == 403
    lease = worker_client.post(f"/api/v1/projects/{project}/assignments/next").json()
    path = f"/api/v1/assignments/{lease['assignment_id']}/verdicts"
    assert worker_client.get(path).json() == []
    # Triage is no free text: a rule of another shape, or before adaptive redundancy, is 422.
    refused = client.patch(
        f"/api/v1/projects/{project}/llm-settings",
        json={"triage": {"rule": "skip experts when judge is sure"}},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"][0]["field"] == "triage.rule"
    early = client.patch(f"/api/v1/projects/{project}/llm-settings",
                         json={"triage": {"judges": ["judge-x"]}})
    assert early.status_code == 422
    assert "adaptive redundancy" in early.json()["error"]["message"]
    assert client.put(f"/api/v1/projects/{project}/redundancy",
                      json={"min_answers": 1}).status_code == 200
    unknown = client.patch(f"/api/v1/projects/{project}/llm-settings",
                           json={"triage": {"judges": ["judge-y"]}})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"][0]["field"] == "triage.judges[0]"
    changed = client.patch(
        f"/api/v1/projects/{project}/llm-settings",
        json={"show_verdicts": True, "triage": {"judges": ["judge-x"]}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["show_verdicts"] is True
    assert changed.json()["triage"] == {"judges": ["judge-x"]}
    triage = client.get(f"/api/v1/projects/{project}/triage").json()
    assert (triage["applied"], triage["judges"]) == (True, ["judge-x"])
    assert triage["policy"]["min_answers"] == 1
    assert worker_client.get(f"/api/v1/projects/{project}/triage").status_code == 403
    [shown] = worker_client.get(path).json()
    good = "A" if "good" in lease["item"]["payload"]["response_a"] else "B"
    assert shown["value"]["choice"] == good
    assert env.client(env.user(Role.WORKER)).get(path).status_code == 404


def test_a_manager_generates_then_judges_through_the_sdk(
    env: Env, chat_server: ChatServer, tmp_path: Path
) -> None:
    from expertloop.client import Client
    from expertloop.jobs.worker import Worker
    from expertloop.services.jobs import load_job_kinds
    from expertloop.settings import Settings

    chat_server.reply = fair_judge
    manager = env.user(Role.MANAGER)
    project = env.project(manager, config={"criteria": [{"name": "accuracy"}, {"name": "tone"}]})
    add_provider(env, chat_server)
    client = Client(env.url, env.token_for(manager))
    try:
        chat_server.script(Reply(text="good one"), Reply(text="poor one"))
        job = client.llm.generate(project, [{"id": "p1", "prompt": "Q?"}], ["judge-x"], n=2)
        assert job["kind"] == "llm.generate"
        worker = Worker(env.db, Settings(data_dir=tmp_path), kinds=load_job_kinds())
        while worker.run_one() is not None:
            pass
        assert client.llm.judge(project, "judge-x")["kind"] == "llm.judge"
        while worker.run_one() is not None:
            pass
        [verdict] = client.llm.verdicts(project)
        assert verdict["value"]["choice"] in ("A", "B")
        assert client.llm.settings(project)["triage"] is None
        client.redundancy.set(project, min_answers=1, max_answers=3, target_confidence=0.9)
        assert client.llm.set_triage(project, ["judge-x"])["triage"] == {"judges": ["judge-x"]}
        assert client.llm.triage(project)["applied"] is True
        assert client.llm.set_triage(project, None)["triage"] is None
        assert client.llm.triage(project)["applied"] is False
        assert not verdict["unsure"]
        assert client.llm.calibration(project)["rows"] == []  # nothing to compare with yet
    finally:
        client.close()
