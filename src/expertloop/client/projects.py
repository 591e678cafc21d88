"""Projects, their members, and the worker's assignments."""

from __future__ import annotations

import builtins
import importlib
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

from expertloop.client._http import Retry
from expertloop.client.errors import ExpertloopClientError, NetworkError
from expertloop.client.item_reports import Reports
from expertloop.client.items import Items
from expertloop.client.models import Progress, SubmittedAnswer, WorkerItem, parse_time
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
]

#: The dataset formats of ``GET /api/v1/projects/{id}/exports/{format}``.
EXPORT_FORMATS = (
    "preference",
    "unpaired",
    "sft",
    "reward",
    "scores",
    "classification",
    "rubric_rl",
    "raw",
)


class HasId(Protocol):
    """Anything with an integer ``id``: a :class:`~expertloop.client.User`, for instance."""

    @property
    def id(self) -> int: ...


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _export_params(
    *,
    file_format: str,
    standard: bool | None,
    min_confidence: float | None,
    min_agreement: float | None,
    include_gold: bool | None,
    criterion: str | None,
    reviewed_only: bool | None,
) -> dict[str, Any]:
    params = {
        # The server's query parameter for the file format is ``output``.
        "output": file_format,
        "standard": _flag(standard),
        "min_confidence": min_confidence,
        "min_agreement": min_agreement,
        "include_gold": _flag(include_gold),
        "criterion": criterion,
        "reviewed_only": _flag(reviewed_only),
    }
    return {k: v for k, v in params.items() if v is not None}


def _check_format(format: str) -> None:
    if format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {format!r}; one of {', '.join(EXPORT_FORMATS)}")


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


class Project(ProjectSettings):
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
        params = {"include_gold": _flag(include_gold)} if include_gold is not None else None
        return builtins.list(self._http.iter_ndjson(f"projects/{self.id}/consensus", params=params))

    @overload
    def export(
        self,
        format: str = ...,
        *,
        standard: bool | None = ...,
        min_confidence: float | None = ...,
        min_agreement: float | None = ...,
        include_gold: bool | None = ...,
        criterion: str | None = ...,
        reviewed_only: bool | None = ...,
        as_dataset: Literal[False],
        card: bool = ...,
    ) -> list[dict[str, Any]]: ...

    @overload
    def export(
        self,
        format: str = ...,
        *,
        standard: bool | None = ...,
        min_confidence: float | None = ...,
        min_agreement: float | None = ...,
        include_gold: bool | None = ...,
        criterion: str | None = ...,
        reviewed_only: bool | None = ...,
        as_dataset: bool | None = ...,
        card: bool = ...,
    ) -> Any: ...

    def export(
        self,
        format: str = "preference",
        *,
        standard: bool | None = None,
        min_confidence: float | None = None,
        min_agreement: float | None = None,
        include_gold: bool | None = None,
        criterion: str | None = None,
        reviewed_only: bool | None = None,
        as_dataset: bool | None = None,
        card: bool = True,
    ) -> Any:
        """A training dataset of the project, in memory.

        ``format`` is one of :data:`EXPORT_FORMATS`; the filters are passed to the server
        as they are (``None`` means the server's default). ``reviewed_only=True`` keeps
        only answers a reviewer accepted or fixed.
        Returns a ``datasets.Dataset`` when the ``datasets`` package is installed (or
        ``as_dataset=True``), else a list of dicts (or with ``as_dataset=False``). The
        dataset is typed by the export's card (``ClassLabel`` labels, the same features
        as the Parquet file), whose text is in ``ds.info.description``; ``card=False``
        skips the card (the server runs the export once more for it). For large exports,
        or Parquet, use :meth:`export_to`.

        Example::

            ds = project.export("preference", min_confidence=0.7)
            trainer = DPOTrainer(model, train_dataset=ds, ...)
        """
        _check_format(format)
        params = _export_params(
            file_format="jsonl",
            standard=standard,
            min_confidence=min_confidence,
            min_agreement=min_agreement,
            include_gold=include_gold,
            criterion=criterion,
            reviewed_only=reviewed_only,
        )
        rows = builtins.list(
            self._http.iter_ndjson(f"projects/{self.id}/exports/{format}", params=params)
        )
        if as_dataset is False:
            return rows
        try:
            datasets = importlib.import_module("datasets")
        except ImportError:
            if as_dataset:
                raise ImportError(
                    "as_dataset=True needs the datasets package: pip install datasets "
                    "(or the extras expertloop[hub] / expertloop-client[datasets])"
                ) from None
            return rows
        if not card:
            return datasets.Dataset.from_list(rows)
        text = self._card(format, params)
        features = datasets.Features._from_yaml_list(card_features(text))
        info = datasets.DatasetInfo(description=text, features=features)
        return datasets.Dataset.from_list(rows, features=features, info=info)

    def _card(self, format: str, params: Mapping[str, Any]) -> str:
        response = self._http.send(
            "GET",
            f"projects/{self.id}/exports/{format}/card",
            params=dict(params),
            retry=Retry.SAFE,
        )
        return str(response.text)

    def export_card(
        self,
        format: str = "preference",
        *,
        standard: bool | None = None,
        min_confidence: float | None = None,
        min_agreement: float | None = None,
        include_gold: bool | None = None,
        criterion: str | None = None,
        reviewed_only: bool | None = None,
        license: str | None = None,
        language: Iterable[str] = (),
    ) -> str:
        """The dataset card (``README.md``: trainer, columns, quality numbers) of the export
        the same options give. The server runs the export to count its rows.

        Example::

            Path("README.md").write_text(project.export_card("unpaired", license="cc-by-4.0"))
        """
        _check_format(format)
        params: dict[str, Any] = _export_params(
            file_format="jsonl",
            standard=standard,
            min_confidence=min_confidence,
            min_agreement=min_agreement,
            include_gold=include_gold,
            criterion=criterion,
            reviewed_only=reviewed_only,
        )
        if license is not None:
            params["license"] = license
        codes = builtins.list(language)
        if codes:
            params["language"] = codes
        return self._card(format, params)

    def export_to(
        self,
        path: str | os.PathLike[str],
        format: str = "preference",
        *,
        file_format: Literal["jsonl", "parquet"] = "jsonl",
        standard: bool | None = None,
        min_confidence: float | None = None,
        min_agreement: float | None = None,
        include_gold: bool | None = None,
        criterion: str | None = None,
        reviewed_only: bool | None = None,
        card: bool = True,
    ) -> Path:
        """Stream a training dataset to a file (JSONL or Parquet); return its path.

        The file is written next to ``path`` under a temporary name and renamed when
        complete, so ``path`` never holds half an export. Its dataset card goes beside it,
        as ``<stem>.README.md`` (``card=False``: no card; the server runs the export once
        more for it).

        Example::

            project.export_to("prefs.parquet", "preference", file_format="parquet")
        """
        _check_format(format)
        params = _export_params(
            file_format=file_format,
            standard=standard,
            min_confidence=min_confidence,
            min_agreement=min_agreement,
            include_gold=include_gold,
            criterion=criterion,
            reviewed_only=reviewed_only,
        )
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        try:
            with partial.open("wb") as sink:
                self._http.download(f"projects/{self.id}/exports/{format}", sink, params=params)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        if card:
            text = self._card(format, params)
            # The card names the file beside it as the split's data.
            text = text.replace(
                f'path: "project-{self.id}-{format}.{file_format}"', f'path: "{target.name}"', 1
            )
            target.with_name(target.stem + ".README.md").write_text(text, encoding="utf-8")
        return target


    def export_job(
        self,
        directory: str | os.PathLike[str],
        format: str = "preference",
        *,
        file_format: Literal["jsonl", "parquet"] = "jsonl",
        standard: bool = False,
        min_confidence: float | None = None,
        min_agreement: float | None = None,
        include_gold: bool = False,
        criterion: str | None = None,
        reviewed_only: bool = False,
        timeout: float = 3600.0,
        poll_seconds: float = 1.0,
    ) -> ExportedFiles:
        """Export on the server as a background job, wait for it, and download the dataset
        file and its Hugging Face dataset card (``README.md``) into ``directory``.

        For projects of any size (large ones export only this way). Raises
        :class:`JobFailed` if the job fails or is cancelled, and
        ``TimeoutError`` after ``timeout`` seconds (the job keeps running on the server).

        Example::

            files = project.export_job("prefs", "preference", file_format="parquet")
            datasets.load_dataset("parquet", data_files=str(files.path))
        """
        _check_format(format)
        body = {
            "format": format,
            "output": file_format,
            "standard": standard,
            "min_confidence": min_confidence,
            "min_agreement": min_agreement,
            "include_gold": include_gold,
            "criterion": criterion,
            "reviewed_only": reviewed_only,
        }
        job = self._http.json(
            "POST", f"projects/{self.id}/exports", json_body=body, retry=Retry.UNSENT
        )
        deadline = time.monotonic() + timeout
        while job["status"] in ("queued", "running"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"export job {job['id']} did not finish in {timeout} s")
            time.sleep(poll_seconds)
            job = self._http.json("GET", f"jobs/{job['id']}")
        if job["status"] != "succeeded":
            raise JobFailed(
                f"export job {job['id']} {job['status']}: {job.get('error') or ''}".strip()
            )
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        paths = []
        for part, name in (("file", job["result"]["file"]), ("card", "README.md")):
            path = target / name
            partial = path.with_name(path.name + ".part")
            try:
                with partial.open("wb") as sink:
                    self._http.download(f"exports/{job['id']}/{part}", sink)
                partial.replace(path)
            finally:
                partial.unlink(missing_ok=True)
            paths.append(path)
        return ExportedFiles(path=paths[0], card=paths[1], job=job)


@dataclass(frozen=True)
class ExportedFiles:
    """What :meth:`Project.export_job` downloaded: the dataset file, its card, the job."""

    path: Path
    card: Path
    job: dict[str, Any]


def card_features(card: str) -> list[dict[str, Any]]:
    """The ``dataset_info.features`` of an expertloop dataset card (written as one line of
    JSON, which is YAML), in the form ``datasets.Features._from_yaml_list`` reads."""
    for line in card.splitlines():
        if line.startswith("  features: "):
            features: list[dict[str, Any]] = json.loads(line.removeprefix("  features: "))
            return features
    raise ValueError("the card has no dataset_info features")


class JobFailed(ExpertloopClientError):
    """A server-side job failed or was cancelled."""


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
