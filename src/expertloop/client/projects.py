"""Projects, their members, and the worker's assignments (a project's exports are in
``project_exports``, its managers' settings in ``project_settings``)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from expertloop.client._http import Retry
from expertloop.client.errors import NetworkError
from expertloop.client.item_reports import Reports
from expertloop.client.items import Items
from expertloop.client.models import Progress, SubmittedAnswer, WorkerItem, parse_time
from expertloop.client.project_exports import (
    EXPORT_FORMATS,
    ExportedFiles,
    JobFailed,
    ProjectExports,
    card_features,
    query_flag,
)
from expertloop.client.project_settings import ProjectSettings
from expertloop.client.reviews import Reviews

if TYPE_CHECKING:
    from expertloop.client._http import Http

__all__ = [
    "EXPORT_FORMATS",
    "Assignment",
    "ExportedFiles",
    "HasId",
    "JobFailed",
    "Members",
    "Project",
    "Projects",
    "card_features",
]


class HasId(Protocol):
    """Anything with an integer ``id``: a :class:`~expertloop.client.User`, for instance."""

    @property
    def id(self) -> int: ...


class Assignment:
    """An item leased to you, the worker, until :attr:`expires_at`.

    Answer it with :meth:`answer` or give it back with :meth:`release`.

    Example::

        while (assignment := project.next()) is not None:
            text = assignment.payload["text"]
            assignment.answer({"label": classify(text)})
    """

    def __init__(self, http: Http, body: Mapping[str, Any]) -> None:
        self._http = http
        self.id: int = body["assignment_id"]
        self.project_id: int = body["project_id"]
        self.task_type: str = body["task_type"]
        self.item = WorkerItem(id=body["item"]["id"], payload=body["item"]["payload"])
        self.expires_at: datetime = parse_time(body["expires_at"])

    @property
    def payload(self) -> dict[str, Any]:
        """The item's payload as presented to you (pairwise: possibly swapped)."""
        return self.item.payload

    def __repr__(self) -> str:
        return f"<Assignment {self.id} item={self.item.id} project={self.project_id}>"

    def answer(
        self, answer: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> SubmittedAnswer:
        """Submit your answer, in the task type's answer format and in the terms you were
        shown; return the server's receipt.

        Each call sends one ``Idempotency-Key`` (a new UUID unless you pass one) and reuses
        it when it retries after a network error, so a retried submission stores exactly one
        answer (the receipt then has ``replayed=True``). Raises
        :class:`~expertloop.client.InvalidAnswer` when the answer does not fit the schema,
        :class:`~expertloop.client.LeaseLost` when your lease ended and the item went to
        someone else, :class:`~expertloop.client.AlreadyAnswered` when it already has an
        answer under another key. If the network fails on every retry,
        :class:`~expertloop.client.NetworkError` says which key to submit again with.

        Example::

            receipt = assignment.answer({"choice": "A", "strength": 2, "rationale": "safer"})
            receipt.answer_id
        """
        key = idempotency_key or str(uuid.uuid4())
        try:
            response = self._http.send(
                "POST",
                f"assignments/{self.id}/answer",
                retry=Retry.SAFE,
                json_body={"answer": dict(answer)},
                headers={"Idempotency-Key": key},
            )
        except NetworkError as exc:
            exc.add_note(
                f"the answer may have been stored: submit it again with idempotency_key={key!r}"
            )
            raise
        return SubmittedAnswer.from_json(response.json(), replayed=response.status_code == 200)

    def extend(self) -> datetime:
        """Extend your lease by the project's lease time, from now; return the new expiry
        (also set as :attr:`expires_at`).

        A project allows a few extensions per lease (``max_lease_extensions``); past them,
        or once the lease has ended, raises :class:`~expertloop.client.Conflict`
        (``extension_limit``) or :class:`~expertloop.client.LeaseLost`.
        """
        body = self._http.json("POST", f"assignments/{self.id}/extend", retry=Retry.UNSENT)
        self.expires_at = parse_time(body["expires_at"])
        return self.expires_at

    def report(self, reason: str, note: str = "") -> dict[str, Any]:
        """Report a problem with the item instead of answering it: ``reason`` is
        ``"broken"``, ``"ambiguous"``, ``"harmful"`` or ``"outside_expertise"``. Your lease
        ends and the item is never offered to you again; the project's managers see the
        report. Returns the receipt (``report_id``, ``item_id``, ``reason``, ...).

        Example::

            assignment.report("ambiguous", note="Both responses are identical.")
        """
        return dict(
            self._http.json(
                "POST",
                f"assignments/{self.id}/report",
                retry=Retry.SAFE,  # a repeated report returns the first one
                json_body={"reason": reason, "note": note},
            )
        )

    def release(self) -> None:
        """Give the item back without answering (a skip); it is not offered to you again.

        Raises :class:`~expertloop.client.LeaseLost` if the assignment is no longer live.
        """
        self._http.send("POST", f"assignments/{self.id}/release", retry=Retry.UNSENT)


class Members:
    """The members of one project (``project.members``)."""

    def __init__(self, http: Http, project_id: int) -> None:
        self._http = http
        self.project_id = project_id

    def add(self, users: int | str | HasId | Iterable[int | str | HasId]) -> list[int]:
        """Add users to the project, named by id, by username, or by an object with an
        ``id`` such as :class:`User`; return the ids added.

        Adding a member again is not an error. An unknown id or username raises
        :class:`~expertloop.client.InvalidInput` naming it, and nobody is added.

        Example::

            alice = client.users.create("alice", "correct-horse-9", role="worker")
            project.members.add([alice, "bob", 7])
        """
        many: list[int | str | HasId] = (
            list(users) if isinstance(users, Iterable) and not isinstance(users, str) else [users]
        )
        ids = [u if isinstance(u, int) else int(u.id) for u in many if not isinstance(u, str)]
        names = [u for u in many if isinstance(u, str)]
        body = self._http.json(
            "POST",
            f"projects/{self.project_id}/members",
            json_body={"user_ids": ids, "usernames": names},
        )
        return list(body["added"])

    def remove(self, user: int | HasId) -> None:
        """Take a user out of the project: they see it no more, get no items from it, and
        their leases in it end. Raises :class:`~expertloop.client.NotFound` if they were
        not a member."""
        user_id = user if isinstance(user, int) else int(user.id)
        self._http.json("DELETE", f"projects/{self.project_id}/members/{user_id}")


class Project(ProjectSettings, ProjectExports):
    """A project, with its resources: :attr:`members`, :attr:`items`, :attr:`reviews` (the
    review queue), and the methods to follow it (:meth:`progress`), get work (:meth:`next`)
    and get data out (:meth:`answers`, :meth:`consensus`, :meth:`export`,
    :meth:`export_to`). Its managers change it with :meth:`update`, :meth:`archive` and
    :meth:`unarchive`, and read :meth:`guidelines_history`.

    Example::

        project = client.projects.create(
            "Triage questions", "label", config={"labels": ["urgent", "routine"]},
            answers_per_item=2)
        project.members.add([alice, bob])
        project.items.add([{"text": "Chest pain for 20 minutes"}])
        project.progress()
    """

    def __init__(self, http: Http, body: Mapping[str, Any]) -> None:
        self._http = http
        self.id: int = body["id"]
        self._load(body)
        self.members = Members(http, self.id)
        self.items = Items(http, self.id)
        self.reviews = Reviews(http, self.id)
        self.reports = Reports(http, self.id)

    def _load(self, body: Mapping[str, Any]) -> None:
        """The project's attributes from the API's JSON object."""
        self.name: str = body["name"]
        self.task_type: str = body["task_type"]
        self.config: dict[str, Any] = body["config"]
        self.guidelines: str = body["guidelines"]
        self.answers_per_item: int = body["answers_per_item"]
        self.lease_seconds: int = body["lease_seconds"]
        self.max_lease_extensions: int = body.get("max_lease_extensions", 0)
        self.created_by: int | None = body.get("created_by")
        self.created_at: datetime = parse_time(body["created_at"])
        #: The training formats this project exports (:meth:`export`'s ``format``).
        self.export_formats: tuple[str, ...] = tuple(body.get("export_formats", ()))
        #: The current version of the guidelines (see :meth:`guidelines_history`).
        self.guidelines_version: int = int(body.get("guidelines_version", 1))
        #: An archived project hands out no items; it keeps its data and exports.
        self.archived: bool = bool(body.get("archived", False))
        archived_at = body.get("archived_at")
        self.archived_at: datetime | None = None if archived_at is None else parse_time(
            archived_at
        )

    def __repr__(self) -> str:
        return f"<Project {self.id} {self.name!r} task_type={self.task_type!r}>"

    def progress(self) -> Progress:
        """Counts of items, answers, complete items and live leases (any member).

        It reads every item of the project on the server: poll every few seconds at most.
        """
        return Progress.from_json(self._http.json("GET", f"projects/{self.id}/progress"))

    def next(self) -> Assignment | None:
        """Lease the next item to you, or ``None`` when nothing is left for you right now.

        If you already hold a live lease in this project, you get the same assignment.
        """
        # Safe to repeat: a repeat returns the lease the first attempt created.
        response = self._http.send("POST", f"projects/{self.id}/assignments/next", retry=Retry.SAFE)
        if response.status_code == 204 or not response.content:
            return None
        return Assignment(self._http, response.json())

    def answers(self) -> Iterator[dict[str, Any]]:
        """Every answer of the project, streamed, in the order they were stored (managers,
        reviewers and admins).

        Each row: ``answer_id``, ``item_id``, ``external_id``, ``worker_id``, ``answer``
        (canonical terms), ``presentation``, ``duration_ms``, ``created_at``.

        Example::

            for row in project.answers():
                print(row["item_id"], row["answer"])
        """
        return self._http.iter_ndjson(f"projects/{self.id}/answers")

    def consensus(self, *, include_gold: bool | None = None) -> list[dict[str, Any]]:
        """The consensus of each answered item (the project's managers): ``item_id``,
        ``external_id``, ``n_answers``, ``consensus``, ``confidence``, ``method``.

        ``include_gold`` is passed to the server as it is (``None``: the server's default).

        Example::

            for row in project.consensus():
                print(row["external_id"], row["consensus"], row["confidence"])
        """
        params = {"include_gold": query_flag(include_gold)} if include_gold is not None else None
        return builtins.list(self._http.iter_ndjson(f"projects/{self.id}/consensus", params=params))

class Projects:
    """The projects you can see (``client.projects``)."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def create(
        self,
        name: str,
        task_type: str,
        *,
        config: Mapping[str, Any] | None = None,
        guidelines: str = "",
        answers_per_item: int = 3,
        lease_seconds: int = 600,
        max_lease_extensions: int = 2,
        redundancy: Mapping[str, Any] | None = None,
    ) -> Project:
        """Create a project (managers and admins); you become a member. ``redundancy``
        (``min_answers``, ``max_answers``, ``target_confidence``) makes it adaptive from the
        start (see :class:`~expertloop.client.redundancy.Redundancy`).

        Example::

            project = client.projects.create(
                "Which answer is better?", "pairwise",
                guidelines="Prefer the medically safer answer.", answers_per_item=3)
        """
        body = self._http.json(
            "POST",
            "projects",
            retry=Retry.UNSENT,
            json_body={
                "name": name,
                "task_type": task_type,
                "config": dict(config or {}),
                "guidelines": guidelines,
                "answers_per_item": answers_per_item,
                "lease_seconds": lease_seconds,
                "max_lease_extensions": max_lease_extensions,
                **({} if redundancy is None else {"redundancy": dict(redundancy)}),
            },
        )
        return Project(self._http, body)

    def get(self, project_id: int) -> Project:
        """One project; :class:`~expertloop.client.NotFound` if it does not exist or you
        are not a member."""
        return Project(self._http, self._http.json("GET", f"projects/{int(project_id)}"))

    def list(self) -> builtins.list[Project]:
        """The projects you are a member of (admins: every project)."""
        return [Project(self._http, body) for body in self._http.json("GET", "projects")]
