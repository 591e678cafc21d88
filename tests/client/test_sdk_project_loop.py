"""The SDK drives a whole project against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from db_fixtures import PASSWORD, Env
from expertloop.client import Client, ImportFailed, LeaseLost, Project, User
from expertloop.domain import Role

Connect = Callable[..., Client]
LABELS = ["urgent", "routine", "not medical"]


@pytest.fixture
def connect(env: Env) -> Iterator[Connect]:
    """Clients for users of the test server (closed after the test)."""
    clients: list[Client] = []

    def make(user: object = None, **options: object) -> Client:
        token = env.token_for(user) if user is not None else None  # type: ignore[arg-type]
        client = Client(env.url, token, backoff=0, **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _run_workers(workers: list[Project]) -> Counter[int]:
    """Each worker loops next -> answer until the server says nothing is left (204)."""
    answered: Counter[int] = Counter()
    for n, project in enumerate(workers):
        while (assignment := project.next()) is not None:
            assert assignment.payload == assignment.item.payload
            label = LABELS[0] if "pain" in assignment.payload["text"] else LABELS[n % 2]
            receipt = assignment.answer({"label": label})
            assert receipt.item_id == assignment.item.id
            assert not receipt.replayed
            answered[n] += 1
    return answered


def _label_project(env: Env, connect: Connect) -> tuple[Project, list[Client], list[User]]:
    admin = connect(env.user(Role.ADMIN))
    manager_user = admin.users.create("sdk-manager", "manager-pass-1", role="manager")
    workers = [admin.users.create(f"sdk-worker-{n}", "worker-pass-1") for n in range(2)]
    manager = Client.login(env.url, "sdk-manager", "manager-pass-1", backoff=0)
    try:
        project = manager.projects.create(
            "Triage", "label", config={"labels": LABELS}, guidelines="Pick one.", answers_per_item=2
        )
    except BaseException:
        manager.close()
        raise
    worker_clients = [
        Client.login(env.url, f"sdk-worker-{n}", "worker-pass-1", backoff=0) for n in range(2)
    ]
    assert manager_user.role == "manager"
    return project, [manager, *worker_clients], workers


def test_the_sdk_drives_a_project_from_new_users_to_streamed_answers(
    env: Env, connect: Connect
) -> None:
    project, (manager, *workers), worker_users = _label_project(env, connect)
    try:
        assert manager.me().username == "sdk-manager"
        assert project.task_type == "label"
        assert project.config["labels"] == LABELS
        assert project.answers_per_item == 2
        assert project.created_at.tzinfo is not None
        assert project.members.add(worker_users) == sorted(u.id for u in worker_users)

        records = [
            {"external_id": f"t-{n}", "text": f"Question {n}", "priority": n} for n in range(5)
        ]
        records.append(
            {
                "external_id": "t-pain",
                "payload": {"text": "Chest pain"},
                "gold": {"label": "urgent"},
            }
        )
        seen: list[tuple[int, int | None]] = []
        assert project.items.add(records, chunk_size=4, progress=lambda *a: seen.append(a)) == 6
        assert seen == [(4, 6), (6, 6)]
        assert project.progress().items == 6
        assert not project.progress().complete

        worker_projects = [w.projects.get(project.id) for w in workers]
        assert [p.name for p in workers[0].projects.list()] == ["Triage"]
        answered = _run_workers(worker_projects)
        assert answered == {0: 6, 1: 6}

        progress = project.progress()
        assert progress.complete
        assert (progress.items, progress.answers, progress.active_leases) == (6, 12, 0)

        rows = list(project.answers())
        assert len(rows) == 12
        assert Counter(r["worker_id"] for r in rows) == Counter({u.id: 6 for u in worker_users})
        pain = [r for r in rows if r["external_id"] == "t-pain"]
        assert [r["answer"] for r in pain] == [{"label": "urgent"}] * 2
    finally:
        for client in (manager, *workers):
            client.close()


def test_an_admin_lists_the_users_it_created_and_logins_give_working_tokens(
    env: Env, connect: Connect
) -> None:
    admin = connect(env.user(Role.ADMIN, username="sdk-admin"))
    created = admin.users.create("dr.lee", "correct-horse-9", role="reviewer")
    assert created == User(id=created.id, username="dr.lee", role="reviewer", is_active=True)
    assert {u.username for u in admin.users.list()} == {"sdk-admin", "dr.lee"}
    with Client.login(env.url, "sdk-admin", PASSWORD, backoff=0) as again:
        assert again.token is not None
        assert again.token.startswith("el_")
        assert again.me().role == "admin"
    assert admin.health()["status"] == "ok"


def test_a_worker_releases_an_item_gets_another_and_cannot_release_twice(
    env: Env, connect: Connect
) -> None:
    manager_user, worker_user = env.user(Role.MANAGER), env.user()
    manager = connect(manager_user)
    project = manager.projects.create("Pairs", "pairwise", answers_per_item=1)
    project.members.add(worker_user.id)
    project.items.add(
        [{"prompt": f"Q{n}?", "response_a": "a", "response_b": "b"} for n in range(2)]
    )
    mine = connect(worker_user).projects.get(project.id)
    first = mine.next()
    assert first is not None
    again = mine.next()  # a live lease comes back, not a new item
    assert again is not None
    assert again.id == first.id
    first.release()
    with pytest.raises(LeaseLost):
        first.release()
    second = mine.next()
    assert second is not None
    assert second.item.id != first.item.id
    second.answer({"choice": "tie"})
    assert mine.next() is None
    assert project.progress().items_complete == 1


def test_a_dataframe_of_payload_fields_becomes_items(env: Env, connect: Connect) -> None:
    pd = pytest.importorskip("pandas")
    manager = connect(env.user(Role.MANAGER))
    project = manager.projects.create("Frame", "label", config={"labels": LABELS})
    frame = pd.DataFrame(
        {
            "text": ["a", "b", "c"],
            "external_id": ["f-1", "f-2", None],
            "priority": [1, None, 3],
            "gold": [{"label": "urgent"}, None, None],
        }
    )
    assert project.items.add(frame, chunk_size=2) == 3
    nested = pd.DataFrame({"payload": [{"text": "d"}, {"text": "e"}]})
    assert project.items.add(nested) == 2
    assert project.progress().items == 5


# --- endpoints added in parallel: consensus and exports ------------------------------------


def _finished_pairwise_project(env: Env, connect: Connect) -> Project:
    manager_user = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(3)]
    project = connect(manager_user).projects.create("Prefs", "pairwise", answers_per_item=3)
    project.members.add(workers)
    project.items.add(
        [
            {
                "external_id": f"p-{n}",
                "prompt": f"Question {n}?",
                "response_a": f"good {n}",
                "response_b": f"bad {n}",
            }
            for n in range(3)
        ]
    )
    for worker in workers:
        mine = connect(worker).projects.get(project.id)
        while (assignment := mine.next()) is not None:
            good = "A" if assignment.payload["response_a"].startswith("good") else "B"
            assignment.answer({"choice": good, "strength": 2})
    assert project.progress().complete
    return project


def test_consensus_lists_one_row_per_item(env: Env, connect: Connect) -> None:
    project = _finished_pairwise_project(env, connect)
    rows = project.consensus()
    assert sorted(r["external_id"] for r in rows) == ["p-0", "p-1", "p-2"]
    assert all(r["n_answers"] == 3 for r in rows)
    assert {"item_id", "consensus", "confidence", "method"} <= set(rows[0])


def test_a_preference_export_comes_back_in_memory_and_as_a_file(
    env: Env, connect: Connect, tmp_path: Path
) -> None:
    project = _finished_pairwise_project(env, connect)
    rows = project.export("preference", as_dataset=False, standard=True)
    assert len(rows) == 3
    assert {(r["chosen"], r["rejected"]) for r in rows} == {
        (f"good {n}", f"bad {n}") for n in range(3)
    }
    path = project.export_to(tmp_path / "prefs.jsonl", "preference", standard=True)
    lines = path.read_text("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == rows

    parquet = project.export_to(tmp_path / "prefs.parquet", "preference", file_format="parquet")
    assert parquet.read_bytes()[:4] == b"PAR1"
    import pyarrow.parquet as pq

    assert pq.read_table(parquet).num_rows == 3


def test_label_studio_tasks_and_argilla_records_are_imported_by_their_source(
    env: Env, connect: Connect
) -> None:
    project = connect(env.user(Role.MANAGER)).projects.create(
        "Moved over", "label", config={"labels": LABELS}
    )
    tasks = [{"id": n, "data": {"text": f"task {n}"}, "annotations": []} for n in range(1, 4)]
    assert project.items.add(tasks, source="label-studio", chunk_size=2) == 3
    records = [
        {"id": "a-1", "fields": {"text": "x"}, "metadata": {"lang": "en"}},
        {"id": "a-2", "fields": {"text": "a line\u2028separator, \u00e9t\u00e9"}},
        {"id": "a-3", "fields": "not an object"},
    ]
    with pytest.raises(ImportFailed) as caught:
        project.items.add(records, source="argilla", chunk_size=2)
    assert caught.value.lines == [3]
    assert caught.value.imported == 2
    assert project.progress().items == 5
