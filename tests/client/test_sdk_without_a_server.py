"""With an injected ``httpx.MockTransport`` the SDK runs without a server: how users test
their own code, and how the SDK's request shapes (exports, consensus, imports) are pinned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import expertloop.client as sdk
from expertloop.client import Client, InvalidAnswer, Progress
from expertloop.client.items import item_from_record

PROJECT = {
    "id": 3,
    "name": "Prefs",
    "task_type": "pairwise",
    "config": {},
    "guidelines": "",
    "answers_per_item": 3,
    "lease_seconds": 600,
    "created_by": 1,
    "created_at": "2026-11-23T12:34:10.353Z",
}


class FakeServer:
    """Answers like the API for the few routes a test needs, and records every request."""

    def __init__(self, routes: dict[tuple[str, str], httpx.Response]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.routes.get((request.method, request.url.path))
        if response is None:
            error = {"code": "not_found", "message": "no such path", "details": None}
            return httpx.Response(404, json={"error": error})
        return response


def _ndjson(rows: list[dict[str, Any]]) -> httpx.Response:
    body = "".join(json.dumps(r) + "\n" for r in rows)
    return httpx.Response(200, text=body, headers={"Content-Type": "application/x-ndjson"})


def _client(server: FakeServer) -> Client:
    return Client("http://expertloop.test", "el_test", transport=httpx.MockTransport(server))


def test_a_users_worker_loop_can_be_tested_with_a_mock_transport() -> None:
    lease = {
        "assignment_id": 11,
        "project_id": 3,
        "task_type": "pairwise",
        "item": {"id": 5, "payload": {"prompt": "Q?", "response_a": "x", "response_b": "y"}},
        "expires_at": "2026-11-23T12:43:53.605Z",
    }
    bad = {
        "code": "invalid_answer",
        "message": "invalid answer: choice",
        "details": [{"field": "answer.choice", "message": "Input should be 'A', 'B' or 'tie'"}],
    }
    server = FakeServer(
        {
            ("GET", "/api/v1/projects/3"): httpx.Response(200, json=PROJECT),
            ("POST", "/api/v1/projects/3/assignments/next"): httpx.Response(200, json=lease),
            ("POST", "/api/v1/assignments/11/answer"): httpx.Response(422, json={"error": bad}),
        }
    )
    with _client(server) as client:
        assignment = client.projects.get(3).next()
        assert assignment is not None
        assert assignment.payload["prompt"] == "Q?"
        assert assignment.expires_at.utcoffset() is not None
        with pytest.raises(InvalidAnswer) as caught:
            assignment.answer({"choice": "C"})
    assert caught.value.details == bad["details"]
    sent = server.requests[-1]
    assert json.loads(sent.content) == {"answer": {"choice": "C"}}
    assert sent.headers["Authorization"] == "Bearer el_test"
    assert len(server.requests) == 3  # a 422 is not retried


def test_nothing_left_to_do_is_none() -> None:
    server = FakeServer(
        {
            ("GET", "/api/v1/projects/3"): httpx.Response(200, json=PROJECT),
            ("POST", "/api/v1/projects/3/assignments/next"): httpx.Response(204),
            ("GET", "/api/v1/projects/3/progress"): httpx.Response(
                200, json={"items": 2, "answers": 6, "items_complete": 2, "active_leases": 0}
            ),
        }
    )
    with _client(server) as client:
        project = client.projects.get(3)
        assert project.next() is None
        assert project.progress() == Progress(items=2, answers=6, items_complete=2, active_leases=0)
        assert project.progress().complete


def test_exports_send_their_filters_and_come_back_as_rows_or_a_dataset() -> None:
    rows = [{"prompt": "Q?", "chosen": "x", "rejected": "y"}]
    server = FakeServer(
        {
            ("GET", "/api/v1/projects/3"): httpx.Response(200, json=PROJECT),
            ("GET", "/api/v1/projects/3/exports/preference"): _ndjson(rows),
        }
    )
    with _client(server) as client:
        project = client.projects.get(3)
        assert (
            project.export("preference", min_confidence=0.8, standard=True, as_dataset=False)
            == rows
        )
        exported = project.export("preference", card=False)
    params = dict(server.requests[1].url.params)
    assert params == {"output": "jsonl", "standard": "true", "min_confidence": "0.8"}
    try:
        import datasets
    except ImportError:
        assert exported == rows
    else:
        assert isinstance(exported, datasets.Dataset)
        assert exported.to_list() == rows
    with pytest.raises(ValueError, match="unknown export format"):
        project.export("dpo")


def test_export_to_streams_the_file_and_leaves_no_partial_file_on_error(tmp_path: Path) -> None:
    parquet = b"PAR1" + bytes(range(256)) * 64 + b"PAR1"
    server = FakeServer(
        {
            ("GET", "/api/v1/projects/3"): httpx.Response(200, json=PROJECT),
            ("GET", "/api/v1/projects/3/exports/sft"): httpx.Response(200, content=parquet),
        }
    )
    with _client(server) as client:
        project = client.projects.get(3)
        path = project.export_to(
            tmp_path / "sft.parquet", "sft", file_format="parquet", include_gold=False,
            card=False,
        )
        assert path.read_bytes() == parquet
        assert dict(server.requests[-1].url.params) == {
            "output": "parquet",
            "include_gold": "false",
        }
        with pytest.raises(sdk.NotFound):
            project.export_to(tmp_path / "raw.jsonl", "raw")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sft.parquet"]


def test_consensus_is_a_list_of_the_streamed_rows() -> None:
    rows = [
        {
            "item_id": 1,
            "external_id": "a",
            "n_answers": 3,
            "consensus": {"choice": "A"},
            "confidence": 0.9,
            "method": "bradley_terry",
        },
    ]
    server = FakeServer(
        {
            ("GET", "/api/v1/projects/3"): httpx.Response(200, json=PROJECT),
            ("GET", "/api/v1/projects/3/consensus"): _ndjson(rows),
        }
    )
    with _client(server) as client:
        assert client.projects.get(3).consensus() == rows


def test_items_are_sent_as_ndjson_chunks_one_line_per_record() -> None:
    server = FakeServer(
        {
            ("GET", "/api/v1/projects/3"): httpx.Response(200, json=PROJECT),
        }
    )
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/items"):
            assert request.headers["Content-Type"] == "application/x-ndjson"
            bodies.append(request.content)
            return httpx.Response(201, json={"count": request.content.count(b"\n")})
        return server(request)

    records = ({"text": f"line\n{n}", "priority": 1.0} for n in range(5))  # a generator
    with Client("http://t", "el_x", transport=httpx.MockTransport(handler)) as client:
        assert client.projects.get(3).items.add(records, chunk_size=2) == 5
    assert [b.count(b"\n") for b in bodies] == [2, 2, 1]
    first = json.loads(bodies[0].splitlines()[0])
    assert first == {"payload": {"text": "line\n0"}, "priority": 1}


def test_flat_records_and_api_items_map_to_the_same_item() -> None:
    flat = {"text": "t", "external_id": "e", "gold": {"label": "x"}, "priority": float("nan")}
    api = {"payload": {"text": "t"}, "external_id": "e", "gold": {"label": "x"}}
    assert item_from_record(flat) == item_from_record(api) == api
    assert item_from_record({"text": float("nan")}) == {"payload": {"text": None}}


def test_records_that_are_not_json_are_refused_before_anything_is_sent() -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing should be sent")

    with Client("http://t", "el_x", transport=httpx.MockTransport(never)) as client:
        items = sdk.Items(client._http, 3)
        with pytest.raises(TypeError, match="record 2"):
            items.add([{"text": "ok"}, {"text": object()}])
        with pytest.raises(TypeError, match="record 1: expected a dict"):
            items.add(["just a string"])
        with pytest.raises(TypeError, match="list"):
            items.add({"text": "one dict, not a list"})


def test_the_sdk_exports_exactly_what_its_all_says() -> None:
    assert sorted(sdk.__all__) == sorted(set(sdk.__all__))
    for name in sdk.__all__:
        assert getattr(sdk, name).__doc__, f"{name} has no docstring"
    assert issubclass(sdk.ImportFailed, sdk.InvalidInput)
    assert issubclass(sdk.LeaseLost, sdk.Conflict)
    assert issubclass(sdk.NetworkError, sdk.ExpertloopClientError)
    assert not issubclass(sdk.NetworkError, sdk.ExpertloopAPIError)
