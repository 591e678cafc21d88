"""The console's import, export and review pages over plain HTTP (both databases), and the
import API: who may use them, what a bad upload gets, whole-file checking before anything is
stored, imports by job, review samples and per-worker outcomes, exports from the page."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from db_fixtures import PASSWORD, Env, ServerThread, pairwise_item
from expertloop.domain import Role, User
from expertloop.services import assignments, projects, reviews
from expertloop.settings import Settings
from expertloop.store import tables as t
from expertloop.web.sessions import SESSION_COOKIE, csrf_token_for

SECRET = Settings().secret_key


def _signed_in(url: str, user: User, env: Env) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    response = client.post(
        "/login",
        data={"csrf_token": token.group(1), "next": "/", "username": user.username,
              "password": PASSWORD},
    )
    assert response.status_code == 303, response.text
    session = client.cookies.get(SESSION_COOKIE)
    assert session
    return client, csrf_token_for(SECRET, session)


def _items(env: Env, project: int) -> int:
    with env.db.read() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(t.Item).where(t.Item.project_id == project)
            ).scalar_one()
        )


def _ndjson(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def _upload(
    client: httpx.Client, csrf: str, project: int, body: bytes, *, name: str = "items.jsonl",
    file_format: str = "auto",
) -> httpx.Response:
    return client.post(
        f"/manage/projects/{project}/import",
        data={"csrf_token": csrf, "format": file_format},
        files={"file": (name, body, "application/octet-stream")},
    )


def _setup(env: Env) -> tuple[User, User, int]:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=1)
    return manager, worker, project


# --- access --------------------------------------------------------------------------------


def test_a_worker_of_the_project_gets_403_on_every_console_ops_page_and_endpoint(
    env: Env,
) -> None:
    _manager, worker, project = _setup(env)
    client, csrf = _signed_in(env.url, worker, env)
    pages = ("import", "exports", "reviews")
    for page in pages:
        assert client.get(f"/manage/projects/{project}/{page}").status_code == 403, page
    form = {"csrf_token": csrf}
    refused = [
        _upload(client, csrf, project, _ndjson([pairwise_item(1)])),
        client.post(f"/manage/projects/{project}/exports", data={**form, "format": "raw"}),
        client.post(f"/manage/projects/{project}/reviews", data={**form, "fraction": "10"}),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    api = env.client(worker)
    assert api.post(
        f"/api/v1/projects/{project}/imports", content=_ndjson([pairwise_item(1)])
    ).status_code == 403
    assert api.get(f"/api/v1/projects/{project}/imports").status_code == 403
    assert api.get(f"/api/v1/projects/{project}/imports/1").status_code == 403
    assert _items(env, project) == 0


def test_console_ops_pages_send_a_visitor_without_a_session_to_sign_in(env: Env) -> None:
    _, _, project = _setup(env)
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    for page in ("import", "exports", "reviews"):
        response = client.get(f"/manage/projects/{project}/{page}")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=/manage/projects/")


def test_an_upload_without_the_forms_csrf_token_is_refused_and_stores_nothing(env: Env) -> None:
    manager, _, project = _setup(env)
    client, _ = _signed_in(env.url, manager, env)
    response = _upload(client, "forged", project, _ndjson([pairwise_item(1)]))
    assert response.status_code == 403
    assert _items(env, project) == 0


# --- importing from the page ----------------------------------------------------------------


def test_a_file_with_errors_lists_them_by_line_and_field_stores_nothing_then_the_fixed_file_imports(
    env: Env,
) -> None:
    manager, _, project = _setup(env)
    client, csrf = _signed_in(env.url, manager, env)
    records = [pairwise_item(n) for n in range(1, 6)]
    broken = [dict(r) for r in records]
    broken[2] = {**broken[2], "payload": {"prompt": "Q?", "response_a": "A"}}  # line 3
    response = _upload(client, csrf, project, _ndjson(broken))
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert "Nothing was imported: 1 problem found" in page.text
    row = re.search(r'<table class="ops-table" id="import-errors">.*?</table>', page.text, re.S)
    assert row is not None
    assert ">3</td>" in row.group(0)
    assert "payload.response_b" in row.group(0)
    assert _items(env, project) == 0

    fixed = _upload(client, csrf, project, _ndjson(records))
    page = client.get(fixed.headers["location"])
    assert "Imported 5 items" in page.text
    assert _items(env, project) == 5
    history = client.get(f"/manage/projects/{project}/import").text
    assert history.count("status--rejected") == 1
    assert history.count("status--succeeded") == 1


def test_json_and_json_lines_are_told_apart_by_content_not_by_the_file_name(env: Env) -> None:
    manager, _, project = _setup(env)
    client, csrf = _signed_in(env.url, manager, env)
    array = json.dumps([pairwise_item(1), pairwise_item(2)]).encode()
    page = client.get(_upload(client, csrf, project, array, name="a.jsonl").headers["location"])
    assert "Imported 2 items" in page.text
    lines = _ndjson([pairwise_item(3)])
    page = client.get(_upload(client, csrf, project, lines, name="b.json").headers["location"])
    assert "Imported 1 item" in page.text
    assert _items(env, project) == 3


def test_an_external_id_the_project_already_has_is_an_error_on_its_line(env: Env) -> None:
    manager, _, project = _setup(env)
    env.items(manager, project, [pairwise_item(1)])
    client, csrf = _signed_in(env.url, manager, env)
    response = _upload(client, csrf, project, _ndjson([pairwise_item(2), pairwise_item(1)]))
    page = client.get(response.headers["location"]).text
    assert "external_id &#39;item-1&#39; already exists in this project" in page
    assert ">2</td>" in page
    assert _items(env, project) == 1


def test_a_file_with_more_problems_than_are_listed_says_how_many_more(env: Env) -> None:
    manager, _, project = _setup(env)
    client, csrf = _signed_in(env.url, manager, env)
    line = b'{"payload": {"prompt": "Q?", "response_a": "A"}}\n'  # no response_b
    body = line * 130
    page = client.get(_upload(client, csrf, project, body).headers["location"]).text
    assert "Nothing was imported: 130 problems found" in page
    assert "and 30 more problems (the first 100 are listed)" in page


@pytest.mark.parametrize(
    ("body", "name", "file_format", "status", "message"),
    [
        (b"", "empty.jsonl", "auto", 422, "is empty: there is nothing to import"),
        (b"  \n\n", "blank.csv", "auto", 422, "is empty"),
        ("[1]".encode("utf-16"), "u16.json", "auto", 422, "encoded as UTF-16; save it as UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "cat.png", "auto", 422, "cannot tell the format"),
    ],
)
def test_an_upload_that_cannot_be_read_gets_a_clear_error_on_the_page(
    env: Env, body: bytes, name: str, file_format: str, status: int, message: str
) -> None:
    manager, _, project = _setup(env)
    client, csrf = _signed_in(env.url, manager, env)
    response = _upload(client, csrf, project, body, name=name, file_format=file_format)
    assert response.status_code == status
    assert message in response.text
    assert 'id="upload-error"' in response.text
    assert _items(env, project) == 0


def test_bytes_that_are_not_utf8_are_listed_on_their_line(env: Env) -> None:
    manager, _, project = _setup(env)
    client, csrf = _signed_in(env.url, manager, env)
    body = b"external_id,prompt,response_a,response_b\nx1,Caf\xe9?,a,b\n"
    response = _upload(client, csrf, project, body, name="latin1.csv")
    page = client.get(response.headers["location"]).text
    assert "invalid UTF-8 at column" in page
    assert "save the file as UTF-8" in page
    assert ">2</td>" in page
    assert _items(env, project) == 0


def test_a_file_in_another_format_than_the_one_chosen_is_refused_with_its_line(env: Env) -> None:
    manager, _, project = _setup(env)
    client, csrf = _signed_in(env.url, manager, env)
    body = b"external_id,prompt,response_a,response_b\nx1,Q?,a,b\n"
    response = _upload(client, csrf, project, body, name="items.csv", file_format="json")
    page = client.get(response.headers["location"]).text
    assert "invalid JSON" in page
    assert _items(env, project) == 0


def test_label_studio_and_argilla_files_import_from_the_page(env: Env) -> None:
    manager, _, project = _setup(env)
    client, csrf = _signed_in(env.url, manager, env)
    tasks = [{"id": 7, "data": {"prompt": "Q?", "response_a": "a", "response_b": "b"}}]
    page = client.get(
        _upload(client, csrf, project, json.dumps(tasks).encode(), file_format="label-studio")
        .headers["location"]
    ).text
    assert "Imported 1 item" in page
    records = {"records": [{"id": "r1", "fields": {"prompt": "Q?", "response_a": "a",
                                                   "response_b": "b"}}]}
    page = client.get(
        _upload(client, csrf, project, json.dumps(records).encode(), file_format="argilla")
        .headers["location"]
    ).text
    assert "Imported 1 item" in page
    assert _items(env, project) == 2


def test_an_upload_over_the_size_limit_gets_413_on_the_page_and_the_api(env: Env) -> None:
    manager, _, project = _setup(env)
    settings = Settings(database_url=env.backend.url, data_dir=env.backend.tmp,
                        max_import_bytes=2000, job_workers=0)
    from expertloop.app import create_app

    server = ServerThread(create_app(settings, database=env.db))
    server.start()
    try:
        client, csrf = _signed_in(server.url, manager, env)
        body = _ndjson([pairwise_item(n) for n in range(100)])
        page = _upload(client, csrf, project, body)
        api = httpx.post(
            f"{server.url}/api/v1/projects/{project}/imports", content=body,
            headers={"Authorization": f"Bearer {env.token_for(manager)}"}, timeout=30,
        )
    finally:
        server.stop()
    assert page.status_code == 413
    assert "EXPERTLOOP_MAX_IMPORT_BYTES" in page.text
    assert api.status_code == 413
    assert "EXPERTLOOP_MAX_IMPORT_BYTES" in api.json()["error"]["message"]
    assert _items(env, project) == 0
    assert not list((env.backend.tmp / "imports" / "incoming").glob("*"))


# --- importing by job (the API) -------------------------------------------------------------


def _finished_import(client: httpx.Client, project: int, import_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 120  # generous: CI machines are often loaded
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/projects/{project}/imports/{import_id}").json()
        if body["phase"] == "done":
            return dict(body)
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def test_the_import_api_answers_202_with_a_job_and_imports_every_item(env: Env) -> None:
    manager, _, project = _setup(env)
    api = env.client(manager)
    body = _ndjson([pairwise_item(n) for n in range(1, 2501)])
    response = api.post(f"/api/v1/projects/{project}/imports?filename=big.jsonl", content=body)
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["job_id"] is not None
    assert started["format"] == "ndjson"
    done = _finished_import(api, project, started["id"])
    assert done["status"] == "succeeded"
    assert done["items_done"] == done["items_total"] == 2500
    assert _items(env, project) == 2500
    listed = api.get(f"/api/v1/projects/{project}/imports").json()
    assert [i["id"] for i in listed] == [started["id"]]
    assert listed[0]["created_by_name"] == manager.username


def test_an_import_job_refuses_a_file_with_errors_whole_and_lists_them(env: Env) -> None:
    manager, _, project = _setup(env)
    api = env.client(manager)
    records = [pairwise_item(n) for n in range(1, 1500)]
    records[1200] = {"payload": {"prompt": 5}}
    response = api.post(f"/api/v1/projects/{project}/imports", content=_ndjson(records))
    done = _finished_import(api, project, response.json()["id"])
    assert done["status"] == "rejected"
    assert done["total_errors"] >= 1
    assert done["errors"][0]["line"] == 1201
    assert _items(env, project) == 0
    job = api.get(f"/api/v1/jobs/{done['job_id']}").json()
    assert job["status"] == "failed"
    assert "line 1201" in job["error"]


def test_another_projects_import_is_not_found_through_this_project(env: Env) -> None:
    manager, _, project = _setup(env)
    other = env.project(manager)
    api = env.client(manager)
    started = api.post(f"/api/v1/projects/{other}/imports", content=_ndjson([pairwise_item(1)]))
    assert api.get(f"/api/v1/projects/{project}/imports/{started.json()['id']}").status_code == 404


# --- reviews ---------------------------------------------------------------------------------


def _answered(env: Env, n: int = 6) -> tuple[User, User, User, int]:
    manager, worker, other = env.user(Role.MANAGER), env.user(), env.user()
    project = env.project(manager, members=[worker, other], answers_per_item=2)
    env.items(manager, project, [pairwise_item(i) for i in range(n)])
    for who in (worker, other):
        while lease := assignments.next_assignment(env.db, actor=who, project_id=project):
            assignments.submit_answer(
                env.db, actor=who, assignment_id=lease.id, answer={"choice": "A"}
            )
    return manager, worker, other, project


def test_a_manager_queues_a_sample_from_the_page_and_sees_per_worker_outcomes(env: Env) -> None:
    manager, worker, other, project = _answered(env)
    client, csrf = _signed_in(env.url, manager, env)
    response = client.post(
        f"/manage/projects/{project}/reviews",
        data={"csrf_token": csrf, "mode": "count", "count": "4", "worker": str(worker.id)},
    )
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert "4 answers queued for review" in page
    reviewer = env.user(Role.REVIEWER)
    projects.add_members(env.db, actor=manager, project_id=project, user_ids=[reviewer.id])
    outcomes = ["accepted", "accepted", "accepted", "rejected"]
    for outcome in outcomes:
        held = reviews.next_review(env.db, actor=reviewer, project_id=project)
        assert held is not None
        assert held.worker_id == worker.id
        reviews.decide_review(
            env.db, actor=reviewer, review_id=held.id, outcome=outcome,
            comment="wrong" if outcome == "rejected" else "",
        )
    page = client.get(f"/manage/projects/{project}/reviews").text
    table = re.search(r'id="worker-outcomes">.*?</table>', page, re.S)
    assert table is not None
    row = re.search(rf"<th scope=\"row\">{worker.username}</th>(.*?)</tr>", table.group(0), re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    # 3 of 4 accepted; Beta(4, 2): 95% interval about 28%-95%.
    assert cells[:5] == ["3", "1", "0", "0", "75%"]
    assert cells[5] == "28%–95%"
    assert other.username not in table.group(0)
    queue = client.get(f"/manage/projects/{project}/reviews?status=rejected").text
    assert queue.count("status--rejected") == 1
    assert "wrong" in queue


def test_a_sample_share_out_of_range_is_explained_and_queues_nothing(env: Env) -> None:
    manager, _, _, project = _answered(env)
    client, csrf = _signed_in(env.url, manager, env)
    response = client.post(
        f"/manage/projects/{project}/reviews",
        data={"csrf_token": csrf, "mode": "fraction", "fraction": "150"},
    )
    assert response.status_code == 422
    assert "at most 100%" in response.text
    assert reviews.review_summary(env.db, actor=manager, project_id=project).counts[
        "pending"
    ] == 0


# --- exports ---------------------------------------------------------------------------------


def test_the_exports_page_offers_the_task_types_formats_and_starts_a_job_with_downloads(
    env: Env,
) -> None:
    manager, _, _, project = _answered(env)
    client, csrf = _signed_in(env.url, manager, env)
    page = client.get(f"/manage/projects/{project}/exports").text
    offered = re.findall(r'name="format" value="([a-z]+)"', page)
    from expertloop.tasks import get_task_type

    assert tuple(offered) == get_task_type("pairwise").export_formats
    response = client.post(
        f"/manage/projects/{project}/exports",
        data={"csrf_token": csrf, "format": "preference", "output": "jsonl",
              "min_confidence": "0.5"},
    )
    assert response.status_code == 303
    job_id = int(response.headers["location"].rsplit("=", 1)[1])
    deadline = time.monotonic() + 30
    while client.get(f"/api/v1/jobs/{job_id}").json()["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    page = client.get(response.headers["location"]).text
    assert f'href="/api/v1/exports/{job_id}/file"' in page
    assert f'href="/api/v1/exports/{job_id}/card"' in page
    assert client.get(f"/api/v1/exports/{job_id}/card").status_code == 200
    history = re.search(r'id="export-history">.*?</table>', page, re.S)
    assert history is not None
    assert manager.username in history.group(0)
    assert "confidence ≥ 0.5" in history.group(0)


def test_an_export_format_the_task_type_does_not_offer_is_refused_on_the_page(env: Env) -> None:
    manager, _, project = _setup(env)
    client, csrf = _signed_in(env.url, manager, env)
    response = client.post(
        f"/manage/projects/{project}/exports",
        data={"csrf_token": csrf, "format": "sft", "output": "jsonl"},
    )
    assert response.status_code == 422
    assert "exports as" in response.text


def test_the_console_ops_pages_carry_the_strict_csp_and_no_inline_script_or_style(
    env: Env,
) -> None:
    manager, _, project = _setup(env)
    client, _ = _signed_in(env.url, manager, env)
    for page in ("import", "exports", "reviews"):
        response = client.get(f"/manage/projects/{project}/{page}")
        assert response.status_code == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "<style" not in response.text
        assert " style=" not in response.text
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", response.text) == []


@pytest.mark.parametrize(
    ("body", "query", "field", "message"),
    [
        (b"", "", "file", "is empty"),
        ("[1]".encode("utf-16"), "", "file", "encoded as UTF-16"),
        (b"GIF89a\x01\x00", "", "format", "cannot tell the format"),
        (b"[]", "?format=yaml", "format", "Input should be"),
    ],
)
def test_the_import_api_refuses_an_unreadable_file_with_422_naming_the_field(
    env: Env, body: bytes, query: str, field: str, message: str
) -> None:
    manager, _, project = _setup(env)
    api = env.client(manager)
    response = api.post(f"/api/v1/projects/{project}/imports{query}", content=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert message in json.dumps(error)
    assert field in json.dumps(error["details"])
    assert api.get(f"/api/v1/projects/{project}/imports").json() == []
