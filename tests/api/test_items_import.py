"""POST /projects/{id}/items: JSON arrays and NDJSON, all or nothing, errors by line."""

from __future__ import annotations

import json

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role

NDJSON = {"Content-Type": "application/x-ndjson"}


def _count_items(env: Env, project: int) -> int:
    return int(
        env.client(env.user(Role.ADMIN)).get(f"/api/v1/projects/{project}/progress").json()["items"]
    )


def test_a_json_array_of_items_is_imported_and_counted(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    items = [pairwise_item(n, priority=n) for n in range(5)]
    items[0]["gold"] = {"choice": "A"}
    response = env.client(manager).post(f"/api/v1/projects/{project}/items", json=items)
    assert response.status_code == 201
    assert response.json() == {"count": 5}
    assert _count_items(env, project) == 5


def test_ndjson_bodies_are_imported_line_by_line(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    body = "\n".join(json.dumps(pairwise_item(n)) for n in range(3)) + "\n\n"
    response = env.client(manager).post(
        f"/api/v1/projects/{project}/items", content=body, headers=NDJSON
    )
    assert response.json() == {"count": 3}


def test_a_bad_line_is_reported_by_number_and_field_and_nothing_is_stored(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    lines = [json.dumps(pairwise_item(n)) for n in range(4)]
    lines[2] = json.dumps({"payload": {"prompt": "q", "response_a": "a"}})
    lines.append("{not json")
    response = env.client(manager).post(
        f"/api/v1/projects/{project}/items", content="\n".join(lines), headers=NDJSON
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "import_failed"
    assert error["message"].startswith("request body: line 3, field payload.response_b")
    assert "nothing was imported" in error["message"]
    assert error["details"]["errors"] == [
        {"line": 3, "field": "payload.response_b", "message": "Field required"},
        {
            "line": 5,
            "field": "",
            "message": "invalid JSON at column 2: Expecting property name "
            "enclosed in double quotes",
        },
    ]
    assert _count_items(env, project) == 0


def test_invalid_gold_priority_and_unknown_fields_are_each_named(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    items = [
        pairwise_item(1, gold={"choice": "maybe"}),
        pairwise_item(2, priority="high"),
        pairwise_item(3, colour="red"),
    ]
    response = env.client(manager).post(f"/api/v1/projects/{project}/items", json=items)
    fields = [(e["line"], e["field"]) for e in response.json()["error"]["details"]["errors"]]
    assert fields == [(1, "gold.choice"), (2, "priority"), (3, "colour")]


def test_duplicate_external_ids_in_a_file_or_the_project_are_refused(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    client = env.client(manager)
    twice = client.post(
        f"/api/v1/projects/{project}/items", json=[pairwise_item(1), pairwise_item(1)]
    )
    assert twice.json()["error"]["details"]["errors"][0] == {
        "line": 2,
        "field": "external_id",
        "message": "duplicate external_id 'item-1' (also on line 1)",
    }
    assert (
        client.post(f"/api/v1/projects/{project}/items", json=[pairwise_item(1)]).status_code == 201
    )
    again = client.post(
        f"/api/v1/projects/{project}/items", json=[pairwise_item(2), pairwise_item(1)]
    )
    assert again.json()["error"]["details"]["errors"][0]["line"] == 2
    assert "already exists" in again.json()["error"]["message"]
    assert _count_items(env, project) == 1


def test_label_items_are_checked_against_the_label_set(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config={"labels": ["spam", "ham"]})
    items = [{"payload": {"text": "win money"}, "gold": {"label": "eggs"}}]
    response = env.client(manager).post(f"/api/v1/projects/{project}/items", json=items)
    assert response.json()["error"]["details"]["errors"][0]["field"] == "gold.label"


def test_a_body_that_is_not_an_array_or_empty_is_refused(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    client = env.client(manager)
    obj = client.post(f"/api/v1/projects/{project}/items", json={"payload": {}})
    assert "expected a JSON array" in obj.json()["error"]["message"]
    empty = client.post(f"/api/v1/projects/{project}/items", json=[])
    assert empty.status_code == 422
    assert "no items" in empty.json()["error"]["message"]


def test_workers_cannot_import_items(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    worker = env.user()
    project = env.project(manager, members=[worker])
    response = env.client(worker).post(f"/api/v1/projects/{project}/items", json=[pairwise_item(1)])
    assert response.status_code == 403


def test_an_unknown_content_type_gets_415_and_names_the_accepted_types(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    response = env.client(manager).post(
        f"/api/v1/projects/{project}/items",
        content=json.dumps(pairwise_item(1)),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert "application/x-ndjson" in response.json()["error"]["message"]


def test_csv_bodies_are_imported(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    body = "external_id,prompt,response_a,response_b\nc1,Hi?,Hello,Bye\n"
    response = env.client(manager).post(
        f"/api/v1/projects/{project}/items", content=body, headers={"Content-Type": "text/csv"}
    )
    assert response.json() == {"count": 1}
