"""Poison input is refused at the door with 422 naming the line and field, for item imports
(JSON, NDJSON, CSV), answers, review fixes, project configs and guidelines; the project keeps
working afterwards (``next``, reviews, every export)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from project_health import assert_project_still_works

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role

NDJSON = {"Content-Type": "application/x-ndjson"}
CSV = {"Content-Type": "text/csv"}


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


# name -> (JSON text of the poisoned value, what the error says)
POISONS: dict[str, tuple[str, str]] = {
    "nesting 300 levels deep": (json.dumps(_deep(300)), "nested more than 64 levels deep"),
    "an integer beyond 64 bits": (str(2**64 + 1), "integer outside the safe range"),
    "an integer beyond 2**53": (str(2**53 + 1), "integer outside the safe range"),
    "a lone surrogate": ('"x\\ud800y"', "lone surrogate"),
    "NaN": ("NaN", "not a finite number"),
    "Infinity": ("-Infinity", "not a finite number"),
    "a NUL character": ('"a\\u0000b"', "NUL character"),
}


def _item_line(n: int, poison: str) -> str:
    """An item as JSON text whose payload field ``extra`` holds the poison (raw JSON)."""
    marker = "__POISON__"
    text = json.dumps(pairwise_item(n, payload={**pairwise_item(n)["payload"], "extra": marker}))
    return text.replace(json.dumps(marker), poison)


def _assert_refused(response: Any, *, line: int, fragment: str, field: str = "payload.extra"):
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "import_failed"
    assert "nothing was imported" in error["message"]
    first = error["details"]["errors"][0]
    assert first["line"] == line
    assert first["field"].startswith(field)
    assert fragment in first["message"]


@pytest.mark.parametrize("poison", POISONS, ids=list(POISONS))
def test_a_poisoned_item_in_a_json_array_is_refused_by_line_and_field(
    env: Env, poison: str
) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    text, fragment = POISONS[poison]
    body = "[" + ",".join([json.dumps(pairwise_item(1)), _item_line(2, text)]) + "]"
    response = env.client(manager).post(
        f"/api/v1/projects/{project}/items",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    _assert_refused(response, line=2, fragment=fragment)
    assert_project_still_works(env, manager, project)


@pytest.mark.parametrize("poison", POISONS, ids=list(POISONS))
def test_a_poisoned_ndjson_line_is_refused_by_line_and_field(env: Env, poison: str) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    text, fragment = POISONS[poison]
    lines = [json.dumps(pairwise_item(n)) for n in range(1, 4)]
    lines[1] = _item_line(2, text)
    response = env.client(manager).post(
        f"/api/v1/projects/{project}/items", content="\n".join(lines), headers=NDJSON
    )
    _assert_refused(response, line=2, fragment=fragment)
    assert_project_still_works(env, manager, project)


@pytest.mark.parametrize("poison", POISONS, ids=list(POISONS))
def test_a_poisoned_csv_cell_or_gold_is_refused_by_line_and_field(env: Env, poison: str) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    text, fragment = POISONS[poison]
    cell = '"{""deep"": ' + text.replace('"', '""') + '}"'
    body = "\r\n".join(
        [
            "external_id,prompt,response_a,response_b,extra",
            "a,q1,A1,B1,plain",
            f"b,q2,A2,B2,{cell}",
        ]
    )
    response = env.client(manager).post(
        f"/api/v1/projects/{project}/items", content=body.encode(), headers=CSV
    )
    _assert_refused(response, line=3, fragment=fragment, field="payload.extra.deep")
    gold = '"{""choice"": ""A"", ""note"": ' + text.replace('"', '""') + '}"'
    body = "\r\n".join(["external_id,prompt,response_a,response_b,gold", f"g,q,a,b,{gold}"])
    response = env.client(manager).post(
        f"/api/v1/projects/{project}/items", content=body.encode(), headers=CSV
    )
    _assert_refused(response, line=2, fragment=fragment, field="gold.note")
    assert_project_still_works(env, manager, project)


def test_a_nul_in_an_external_id_or_a_plain_csv_cell_is_refused(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    client = env.client(manager)
    response = client.post(
        f"/api/v1/projects/{project}/items", json=[pairwise_item(1, external_id="a\x00b")]
    )
    _assert_refused(response, line=1, fragment="NUL character", field="external_id")
    body = b"prompt,response_a,response_b\r\nq,a\x00,b\r\n"
    response = client.post(f"/api/v1/projects/{project}/items", content=body, headers=CSV)
    _assert_refused(response, line=2, fragment="NUL character", field="payload.response_a")
    assert_project_still_works(env, manager, project)


@pytest.mark.parametrize("poison", POISONS, ids=list(POISONS))
def test_a_poisoned_answer_is_refused_naming_the_field(env: Env, poison: str) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=1)
    env.items(manager, project, [pairwise_item(1)])
    client = env.client(worker)
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    text, fragment = POISONS[poison]
    body = '{"answer": {"choice": "A", "rationale": ' + text + "}}"
    response = client.post(
        f"/api/v1/assignments/{lease['assignment_id']}/answer",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] in ("invalid_answer", "invalid_input")
    # The body parser refuses some poisons itself (nesting past 200 levels, lone
    # surrogates), naming the column; the rest are named by their field.
    located = [d for d in error["details"] if d["field"].startswith("answer.rationale")] or [
        d for d in error["details"] if d["field"] == "body" and "column" in d["message"]
    ]
    assert located, error
    if located[0]["field"] != "body":
        assert fragment in located[0]["message"]
    stored = client.post(
        f"/api/v1/assignments/{lease['assignment_id']}/answer", json={"answer": {"choice": "A"}}
    )
    assert stored.status_code == 201, stored.text
    assert_project_still_works(env, manager, project)


@pytest.mark.parametrize("poison", POISONS, ids=list(POISONS))
def test_a_poisoned_project_config_or_guidelines_is_refused_naming_the_field(
    env: Env, poison: str
) -> None:
    manager = env.user(Role.MANAGER)
    client = env.client(manager)
    text, fragment = POISONS[poison]
    body = (
        '{"name": "p", "task_type": "label", "config": {"labels": ["yes", "no"], "extra": '
        + text
        + "}}"
    )
    response = client.post(
        "/api/v1/projects", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert details[0]["field"].startswith("config.extra"), details
    assert fragment in details[0]["message"]
    if text.startswith('"'):  # strings: guidelines and the name are checked too
        for field in ("guidelines", "name"):
            body = json.dumps({"name": "p", "task_type": "pairwise", field: "__X__"})
            response = client.post(
                "/api/v1/projects",
                content=body.replace('"__X__"', text),
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 422, response.text
            assert response.json()["error"]["details"][0]["field"] == field
    assert client.get("/api/v1/projects").json() == []


@pytest.mark.parametrize("poison", ["NaN", "a NUL character", "an integer beyond 2**53"])
def test_a_poisoned_review_fix_or_comment_is_refused_naming_the_field(
    env: Env, poison: str
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=1)
    env.items(manager, project, [pairwise_item(1)])
    client = env.client(worker)
    lease = client.post(f"/api/v1/projects/{project}/assignments/next").json()
    client.post(
        f"/api/v1/assignments/{lease['assignment_id']}/answer", json={"answer": {"choice": "A"}}
    )
    admin = env.client(manager)
    admin.post(f"/api/v1/projects/{project}/reviews", json={"fraction": 1.0})
    review = admin.post(f"/api/v1/projects/{project}/reviews/next").json()
    text, fragment = POISONS[poison]
    url = f"/api/v1/reviews/{review['review_id']}/decision"
    fixed = '{"outcome": "fixed", "answer": {"choice": "B", "rationale": ' + text + "}}"
    response = admin.post(url, content=fixed, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    detail = response.json()["error"]["details"][0]
    assert detail["field"] == "answer.rationale"
    assert fragment in detail["message"]
    if text.startswith('"'):
        rejected = '{"outcome": "rejected", "comment": ' + text + "}"
        response = admin.post(url, content=rejected, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"][0]["field"] == "comment"
    assert admin.post(url, json={"outcome": "accepted"}).status_code == 200
    assert_project_still_works(env, manager, project)
