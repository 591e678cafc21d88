"""LLM judges: prompts per task type, both orders for pairs, verdicts stored as model
suggestions (never answers), resumable runs, calibration against gold and consensus, and
what experts see, against a real chat server and real databases."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.errors import InputInvalid, NotFound, PermissionDenied
from expertloop.jobs.worker import Worker
from expertloop.services import assignments, llm
from expertloop.services.jobs import load_job_kinds
from expertloop.settings import Settings
from expertloop.store import llm_judges as judge_store
from llm_server import ChatServer, Reply

CRITERIA = [{"name": "accuracy"}, {"name": "tone"}]
_RESPONSES = re.compile(r"## Response A\n(.*?)\n\n## Response B\n(.*?)\n\n", re.S)


def fair_judge(messages: list[dict[str, Any]]) -> str:
    """Prefers the response containing "good", whichever side it is shown on."""
    first, second = _RESPONSES.search(messages[-1]["content"]).groups()  # type: ignore[union-attr]
    side = "A" if "good" in first else "B" if "good" in second else "tie"
    return f'Sure. {{"overall": "{side}", "criteria": {{"accuracy": "{side}", "tone": "tie"}}}}'


def biased_judge(messages: list[dict[str, Any]]) -> str:
    return '{"overall": "A", "criteria": {"accuracy": "A", "tone": "A"}}'


def pairwise_project(env: Env, n: int = 6, **options: Any) -> tuple[Any, int, list[int]]:
    manager = env.user(Role.MANAGER)
    project = env.project(manager, config={"criteria": CRITERIA}, **options)
    records = []
    for k in range(n):
        good_first = k % 2 == 0
        records.append({
            "external_id": f"q{k}",
            "payload": {
                "prompt": f"Question {k}?",
                "response_a": f"good answer {k}" if good_first else f"poor answer {k}",
                "response_b": f"poor answer {k}" if good_first else f"good answer {k}",
            },
            "gold": {"choice": "A" if good_first else "B",
                     "criteria": {"accuracy": "A" if good_first else "B", "tone": "tie"}},
        })
    env.items(manager, project, records)
    with env.db.read() as conn:
        ids = [i.id for i in judge_store.items_after(conn, project, 0, 100)]
    return manager, project, ids


def add_provider(env: Env, server: ChatServer, *, concurrency: int = 1) -> None:
    """One call at a time unless asked (so scripted replies meet the prompts in order)."""
    llm.add_provider(
        env.db, actor=None, name="judge-x", base_url=server.base_url, model="judge-model",
        params={"temperature": 0}, max_retries=0, concurrency=concurrency,
    )


def run_jobs(env: Env, tmp_path: Path) -> None:
    kinds = {k: v for k, v in load_job_kinds().items() if k == llm.JUDGE_KIND}
    worker = Worker(env.db, Settings(data_dir=tmp_path), kinds=kinds)
    while worker.run_one() is not None:
        pass


def test_a_judge_job_judges_every_pair_in_both_orders_and_stores_suggestions_not_answers(
    env: Env, chat_server: ChatServer, tmp_path: Path
) -> None:
    chat_server.reply = fair_judge
    manager, project, ids = pairwise_project(env)
    add_provider(env, chat_server, concurrency=3)
    job = llm.start_judging(env.db, actor=manager, project_id=project, provider="judge-x")
    assert job.kind == "llm.judge"
    run_jobs(env, tmp_path)
    verdicts = llm.list_verdicts(env.db, actor=manager, project_id=project)
    assert [v.item_id for v in verdicts] == ids
    assert chat_server.calls == 2 * len(ids)
    for k, verdict in enumerate(verdicts):
        side = "A" if k % 2 == 0 else "B"
        assert verdict.value == {"choice": side, "criteria": {"accuracy": side, "tone": "tie"}}
        assert not verdict.unsure
        assert (verdict.judge, verdict.provider, verdict.model) == ("judge-x", "judge-x", "judge-model")
        assert len(verdict.call_ids) == 2
    # The second prompt shows the pair swapped.
    shown = [
        _RESPONSES.search(r["messages"][-1]["content"]).groups()  # type: ignore[union-attr]
        for r in chat_server.requests
        if "Question 0?" in r["messages"][-1]["content"]
    ]
    assert sorted(shown) == sorted([("good answer 0", "poor answer 0"),
                                    ("poor answer 0", "good answer 0")])
    with env.db.read() as conn:
        from sqlalchemy import func, select

        from expertloop.store import tables as t

        assert conn.execute(select(func.count()).select_from(t.Answer)).scalar_one() == 0
        assert conn.execute(select(func.sum(t.Item.n_answers))).scalar_one() == 0


def test_a_pair_judged_differently_in_its_two_orders_is_unsure(
    env: Env, chat_server: ChatServer
) -> None:
    chat_server.reply = biased_judge
    manager, project, _ids = pairwise_project(env, n=2)
    add_provider(env, chat_server)
    run = llm.judge_items(env.db, project, _params())
    assert (run.judged, run.unsure) == (2, 2)
    for verdict in llm.list_verdicts(env.db, actor=manager, project_id=project):
        assert verdict.unsure
        assert verdict.value is None
        assert verdict.details["unsure"] == ["overall", "accuracy", "tone"]


def _params(**changes: Any) -> dict[str, Any]:
    params = {"provider": "judge-x", "judge": "judge-x", "instructions": None, "params": {},
              "seed": None, "item_ids": None, "redo": False}
    params.update(changes)
    return params


def test_a_second_run_skips_judged_items_and_redo_reuses_recorded_calls(
    env: Env, chat_server: ChatServer
) -> None:
    chat_server.reply = fair_judge
    _, project, _ids = pairwise_project(env, n=3)
    add_provider(env, chat_server)
    assert llm.judge_items(env.db, project, _params()).judged == 3
    again = llm.judge_items(env.db, project, _params())
    assert (again.judged, again.skipped) == (0, 3)
    redone = llm.judge_items(env.db, project, _params(redo=True))
    assert redone.judged == 3
    assert chat_server.calls == 6  # the redo was served from the recorded calls


def test_truncated_and_malformed_replies_make_an_item_unsure_with_the_reason(
    env: Env, chat_server: ChatServer
) -> None:
    chat_server.reply = fair_judge
    manager, project, _ids = pairwise_project(env, n=2)
    add_provider(env, chat_server)
    chat_server.script(
        Reply(text='{"overall": "A", "crit', finish_reason="length"),
        Reply(),
        Reply(text="I think A is better."),
        Reply(),
    )
    llm.judge_items(env.db, project, _params())
    first, second = llm.list_verdicts(env.db, actor=manager, project_id=project)
    assert first.unsure
    assert "token limit" in first.details["errors"]["ab"]
    assert second.unsure
    assert "no JSON object" in second.details["errors"]["ab"]


def test_a_provider_failure_fails_the_attempt_and_the_retry_resumes(
    env: Env, chat_server: ChatServer, tmp_path: Path
) -> None:
    chat_server.reply = fair_judge
    manager, project, _ids = pairwise_project(env, n=3)
    add_provider(env, chat_server)
    chat_server.script(Reply(), Reply(), Reply(status=500))
    with pytest.raises(RuntimeError, match="HTTP 500"):
        llm.judge_items(env.db, project, _params())
    assert len(llm.list_verdicts(env.db, actor=manager, project_id=project)) >= 1
    llm.judge_items(env.db, project, _params())
    assert len(llm.list_verdicts(env.db, actor=manager, project_id=project)) == 3
    # Every prompt was answered once; only the failed one was asked twice.
    assert chat_server.calls == 2 * 3 + 1


def test_calibration_reports_accuracy_and_kappa_per_criterion_against_gold(
    env: Env, chat_server: ChatServer
) -> None:
    manager, project, _ids = pairwise_project(env, n=10)
    add_provider(env, chat_server)
    rng = random.Random(3)
    wrong = set(rng.sample(range(10), 2))

    def mostly_right(messages: list[dict[str, Any]]) -> str:
        reply = json.loads(fair_judge(messages).removeprefix("Sure. "))
        number = int(re.search(r"Question (\d+)", messages[-1]["content"]).group(1))  # type: ignore[union-attr]
        if number in wrong:
            reply["overall"] = {"A": "B", "B": "A"}[reply["overall"]]
        return json.dumps(reply)

    chat_server.reply = mostly_right
    llm.judge_items(env.db, project, _params())
    result = llm.calibrate(env.db, actor=manager, project_id=project)
    rows = {row.key: row for row in result.rows}
    assert set(rows) == {"overall", "accuracy", "tone"}
    overall = rows["overall"].agreement
    assert (overall.n, overall.unsure) == (10, 0)
    assert overall.accuracy == pytest.approx(0.8)
    assert overall.accuracy_lower < 0.8 < overall.accuracy_upper
    assert overall.kappa == pytest.approx(0.6)
    assert overall.kappa_lower is not None
    assert overall.kappa_lower <= overall.kappa <= overall.kappa_upper
    assert rows["accuracy"].agreement.accuracy == 1.0
    assert rows["overall"].gold_items == 10
    assert rows["overall"].model == "judge-model"


def test_rubric_and_label_judges_read_scores_and_labels(
    env: Env, chat_server: ChatServer
) -> None:
    manager = env.user(Role.MANAGER)
    rubric = env.project(manager, task_type="rubric", config={"criteria": [
        {"name": "correct", "kind": "pass_fail"},
        {"name": "complete", "kind": "points", "max_points": 3, "anchors": {"0": "no", "3": "all"}},
    ]})
    env.items(manager, rubric, [{"payload": {"prompt": "Dose?", "response": "5 mg"},
                                 "gold": {"scores": {"correct": True, "complete": 2}}}])
    labels = env.project(manager, task_type="label", config={"labels": ["urgent", "routine"]})
    env.items(manager, labels, [{"payload": {"text": "Chest pain"}, "gold": {"label": "urgent"}}])
    add_provider(env, chat_server)
    chat_server.script(
        Reply(text='```json\n{"scores": {"correct": true, "complete": 2}}\n```'),
        Reply(text='{"label": "routine"}'),
    )
    llm.judge_items(env.db, rubric, _params())
    llm.judge_items(env.db, labels, _params())
    [graded] = llm.list_verdicts(env.db, actor=manager, project_id=rubric)
    assert graded.value == {"scores": {"correct": True, "complete": 2}}
    assert "0..3" in chat_server.requests[0]["messages"][-1]["content"]
    [labelled] = llm.list_verdicts(env.db, actor=manager, project_id=labels)
    assert labelled.value == {"label": "routine"}
    rows = {r.key: r.agreement for r in llm.calibrate(env.db, actor=manager, project_id=rubric).rows}
    assert (rows["correct"].accuracy, rows["complete"].accuracy) == (1.0, 1.0)
    [label_row] = llm.calibrate(env.db, actor=manager, project_id=labels).rows
    assert label_row.agreement.accuracy == 0.0


def test_judging_is_for_managers_of_judgeable_projects_with_a_known_provider(
    env: Env, chat_server: ChatServer
) -> None:
    worker = env.user()
    manager, project, _ = pairwise_project(env, n=1, members=[worker])
    add_provider(env, chat_server)
    outsider = env.user(Role.MANAGER)
    with pytest.raises(NotFound):
        llm.start_judging(env.db, actor=outsider, project_id=project, provider="judge-x")
    demo = env.project(manager, task_type="demonstration", config={})
    with pytest.raises(InputInvalid, match="no LLM judge"):
        llm.start_judging(env.db, actor=manager, project_id=demo, provider="judge-x")
    with pytest.raises(NotFound, match="no model provider named 'nope'"):
        llm.start_judging(env.db, actor=manager, project_id=project, provider="nope")
    with pytest.raises(PermissionDenied):
        llm.calibrate(env.db, actor=worker, project_id=project)


def test_experts_see_sure_verdicts_only_when_the_project_says_so_in_shown_terms(
    env: Env, chat_server: ChatServer
) -> None:
    chat_server.reply = fair_judge
    worker = env.user()
    manager, project, _ids = pairwise_project(env, n=1, members=[worker])
    add_provider(env, chat_server)
    llm.judge_items(env.db, project, _params())
    lease = assignments.next_assignment(
        env.db, actor=worker, project_id=project, rng=random.Random(1)
    )
    assert lease is not None
    assert llm.verdicts_for_assignment(env.db, actor=worker, assignment_id=lease.id) == []
    llm.update_llm_settings(env.db, actor=manager, project_id=project, show_verdicts=True)
    [shown] = llm.verdicts_for_assignment(env.db, actor=worker, assignment_id=lease.id)
    # The verdict names the good response by the side the worker sees it on.
    good_side = "A" if "good" in lease.item.payload["response_a"] else "B"
    assert shown.value["choice"] == good_side
    with pytest.raises(PermissionDenied):
        llm.update_llm_settings(env.db, actor=worker, project_id=project, show_verdicts=False)
