"""The review queue of a project (``project.reviews``) and the reviews in it.

Managers queue answers for review (a random sample, one worker's answers, or chosen
answers) and read the summary; reviewers take reviews one at a time and accept, reject
(with a reason) or fix each answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from expertloop.client._http import Retry
from expertloop.client.errors import NotFound, ReviewClosed
from expertloop.client.models import parse_time

if TYPE_CHECKING:
    from expertloop.client._http import Http

__all__ = [
    "MAX_PAGE_SIZE",
    "REVIEW_STATUSES",
    "Review",
    "ReviewSummary",
    "Reviews",
    "WorkerReviewSummary",
]

#: ``"pending"``, then the three outcomes of a decision.
REVIEW_STATUSES = ("pending", "accepted", "rejected", "fixed")
#: The most reviews ``GET /api/v1/projects/{id}/reviews`` returns per page.
MAX_PAGE_SIZE = 1000


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


def _optional_time(value: str | None) -> datetime | None:
    return None if value is None else parse_time(value)


@dataclass(frozen=True)
class Review:
    """An answer under review: what the reviewer needs to judge it, and the decision once
    made (``status`` is ``"pending"`` or the outcome).

    ``payload`` and ``answer`` are in canonical terms: the item as imported and the answer
    as stored (for pairwise, ``"A"`` is the item's ``response_a``, whatever the worker was
    shown). :meth:`accept`, :meth:`reject` and :meth:`fix` post the decision and return
    the review as the server now has it; the object itself does not change.

    Example::

        while (review := project.reviews.next()) is not None:
            if looks_right(review.payload, review.answer):
                review.accept()
            else:
                review.reject("ignores the patient's age")
    """

    id: int
    project_id: int
    status: str
    source: str
    answer_id: int
    item_id: int
    external_id: str | None
    worker_id: int
    payload: dict[str, Any]
    answer: dict[str, Any]
    duration_ms: int
    answered_at: datetime
    requested_at: datetime
    reviewer_id: int | None = None
    lease_expires_at: datetime | None = None
    comment: str = ""
    fixed_answer: dict[str, Any] | None = None
    decided_at: datetime | None = None

    # The connection decisions are posted on; set per instance by from_json, kept out of
    # the fields so repr, ==, and dataclasses.asdict() see only the review's data.
    _http: ClassVar[Http | None] = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any], http: Http | None = None) -> Review:
        review = cls(
            id=body["review_id"],
            project_id=body["project_id"],
            status=body["status"],
            source=body["source"],
            answer_id=body["answer_id"],
            item_id=body["item_id"],
            external_id=body.get("external_id"),
            worker_id=body["worker_id"],
            payload=body["payload"],
            answer=body["answer"],
            duration_ms=body["duration_ms"],
            answered_at=parse_time(body["answered_at"]),
            requested_at=parse_time(body["requested_at"]),
            reviewer_id=body.get("reviewer_id"),
            lease_expires_at=_optional_time(body.get("lease_expires_at")),
            comment=body.get("comment") or "",
            fixed_answer=body.get("fixed_answer"),
            decided_at=_optional_time(body.get("decided_at")),
        )
        if http is not None:
            object.__setattr__(review, "_http", http)
        return review

    @property
    def pending(self) -> bool:
        """Whether no decision was recorded yet."""
        return self.status == "pending"

    def accept(self, comment: str = "") -> Review:
        """Accept the answer as it is; return the decided review.

        Raises :class:`~expertloop.client.ReviewClosed` if the review was decided already
        or another reviewer holds it, :class:`~expertloop.client.PermissionDenied` for your
        own answer.
        """
        return self._decide("accepted", comment=comment)

    def reject(self, reason: str, *, requeue: bool = True) -> Review:
        """Reject the answer, saying why (``reason`` is required); return the decided review.

        A rejected answer is left out of consensus and exports. With ``requeue`` (the
        default) its item gets one more answer to replace it; ``requeue=False`` leaves the
        item as it is (e.g. for spam on an item that has answers enough).
        """
        return self._decide("rejected", comment=reason, requeue=requeue)

    def fix(self, answer: Mapping[str, Any], comment: str = "") -> Review:
        """Replace the worker's answer with a corrected one; return the decided review.

        ``answer`` is in the task type's answer format and in canonical terms (as
        :attr:`answer` shows the worker's); it must be valid and differ from the worker's,
        else :class:`~expertloop.client.InvalidAnswer` or
        :class:`~expertloop.client.InvalidInput`. The worker's answer is kept in
        :attr:`answer`; the correction is :attr:`fixed_answer`.
        """
        return self._decide("fixed", comment=comment, answer=dict(answer))

    def _decide(
        self,
        outcome: str,
        *,
        comment: str,
        answer: dict[str, Any] | None = None,
        requeue: bool = True,
    ) -> Review:
        http = self._http
        if http is None:
            raise RuntimeError("this Review was not loaded from a server; it cannot be decided")
        body: dict[str, Any] = {"outcome": outcome, "comment": comment}
        if answer is not None:
            body["answer"] = answer
        if outcome == "rejected":
            body["requeue"] = requeue
        retried = False

        def note_retry(_attempt: int) -> None:
            nonlocal retried
            retried = True

        try:
            # A decision is recorded once: a repeat of a delivered request is refused
            # (review_closed), never applied twice, so repeating is safe.
            decided = http.json(
                "POST",
                f"reviews/{self.id}/decision",
                retry=Retry.SAFE,
                json_body=body,
                on_retry=note_retry,
            )
        except ReviewClosed:
            if not retried:
                raise
            # Closed after a repeat: if an earlier attempt was recorded and only its
            # response was lost, the review now holds this very decision.
            now = Review.from_json(http.json("GET", f"reviews/{self.id}"), http)
            same_reviewer = self.reviewer_id is None or now.reviewer_id == self.reviewer_id
            if now.status == outcome and now.comment == comment.strip() and same_reviewer:
                return now
            raise
        return Review.from_json(decided, http)


@dataclass(frozen=True, slots=True)
class WorkerReviewSummary:
    """How one worker's reviewed answers came out.

    ``acceptance_rate`` is the share of decided reviews accepted as they were (a fix does
    not count as accepted), or ``None`` while none is decided.
    """

    worker_id: int
    username: str
    accepted: int
    rejected: int
    fixed: int
    pending: int
    acceptance_rate: float | None

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected + self.fixed

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> WorkerReviewSummary:
        return cls(
            worker_id=body["worker_id"],
            username=body["username"],
            accepted=body["accepted"],
            rejected=body["rejected"],
            fixed=body["fixed"],
            pending=body["pending"],
            acceptance_rate=body["acceptance_rate"],
        )


@dataclass(frozen=True, slots=True)
class ReviewSummary:
    """A project's reviews by status (``counts``: ``pending``, ``accepted``, ``rejected``,
    ``fixed``), and per worker whose answers were queued.

    Example::

        s = project.reviews.summary()
        s.pending, s.accepted, s.acceptance_rate
        for w in s.workers:
            print(w.username, w.acceptance_rate)
    """

    counts: dict[str, int]
    workers: list[WorkerReviewSummary] = field(default_factory=list)

    @property
    def pending(self) -> int:
        return self.counts.get("pending", 0)

    @property
    def accepted(self) -> int:
        return self.counts.get("accepted", 0)

    @property
    def rejected(self) -> int:
        return self.counts.get("rejected", 0)

    @property
    def fixed(self) -> int:
        return self.counts.get("fixed", 0)

    @property
    def total(self) -> int:
        """Every review queued, decided or not."""
        return sum(self.counts.values())

    @property
    def acceptance_rate(self) -> float | None:
        """The share of decided reviews accepted as they were; ``None`` before any."""
        decided = self.accepted + self.rejected + self.fixed
        return self.accepted / decided if decided else None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ReviewSummary:
        return cls(
            counts={str(k): int(v) for k, v in body["counts"].items()},
            workers=[WorkerReviewSummary.from_json(w) for w in body["workers"]],
        )


class Reviews:
    """The review queue of one project (``project.reviews``).

    Example::

        # a manager: review a tenth of the answers, and all of one worker's
        project.reviews.request(fraction=0.1)
        project.reviews.request(fraction=1.0, worker_id=alice)

        # a reviewer
        mine = reviewer.projects.get(project.id)
        while (review := mine.reviews.next()) is not None:
            review.accept()

        project.reviews.summary().acceptance_rate
    """

    def __init__(self, http: Http, project_id: int) -> None:
        self._http = http
        self.project_id = project_id

    def request(
        self,
        *,
        fraction: float | None = None,
        count: int | None = None,
        answer_ids: Iterable[int] | None = None,
        worker_id: int | _HasId | None = None,
    ) -> int:
        """Queue answers for review (the project's managers); return how many were newly
        queued.

        Give exactly one of ``fraction`` (that share, rounded up, of the answers not queued
        yet), ``count`` (that many of them, or all if fewer), both drawn at random and, with
        ``worker_id`` (an id or a :class:`~expertloop.client.User`), only from that
        worker's answers; or ``answer_ids`` (those answers, all of this project, or the
        request is refused whole with :class:`~expertloop.client.InvalidInput`). Answers
        on gold items are not sampled; no answer is ever queued twice.

        Example::

            project.reviews.request(fraction=0.1)
            project.reviews.request(count=20, worker_id=alice)
            project.reviews.request(answer_ids=[101, 102])
        """
        ids = None if answer_ids is None else [int(a) for a in answer_ids]
        body: dict[str, Any] = {
            name: value
            for name, value in (("fraction", fraction), ("count", count), ("answer_ids", ids))
            if value is not None
        }
        if len(body) != 1:
            raise ValueError(
                "give exactly one of fraction, count and answer_ids"
                + (f" (got {', '.join(body)})" if body else "")
            )
        if worker_id is not None:
            body["worker_id"] = worker_id if isinstance(worker_id, int) else int(worker_id.id)
        result = self._http.json(
            "POST",
            f"projects/{self.project_id}/reviews",
            # Chosen answers are never queued twice, so a repeat changes nothing (it may
            # report 0 for answers its first, delivered attempt queued); a repeated sample
            # would queue a second sample.
            retry=Retry.SAFE if ids is not None else Retry.UNSENT,
            json_body=body,
        )
        return int(result["queued"])

    def next(self) -> Review | None:
        """Hold the next pending review for you (reviewers and managers), or ``None`` when
        the queue holds nothing for you. Your own answers are never given to you.

        It is held for you for the project's lease time; asking again while you hold one
        returns the same review.
        """
        # Safe to repeat: a repeat returns the review the first attempt held.
        response = self._http.send(
            "POST", f"projects/{self.project_id}/reviews/next", retry=Retry.SAFE
        )
        if response.status_code == 204 or not response.content:
            return None
        return Review.from_json(response.json(), self._http)

    def list(self, status: str | None = None, *, page_size: int = 100) -> Iterator[Review]:
        """Every review of the project in id order, or only those with ``status``
        (``"pending"``, ``"accepted"``, ``"rejected"`` or ``"fixed"``); reviewers and
        managers.

        Reviews are fetched ``page_size`` at a time (at most 1000) as you iterate; each
        page starts after the last review id of the one before, so reviews decided while
        you iterate are neither skipped nor repeated.

        Example::

            for review in project.reviews.list("rejected"):
                print(review.worker_id, review.comment)
        """
        if status is not None and status not in REVIEW_STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {', '.join(REVIEW_STATUSES)}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        return self._pages(status, page_size)

    def _pages(self, status: str | None, page_size: int) -> Iterator[Review]:
        after = 0
        while True:
            params: dict[str, Any] = {"after": after, "limit": page_size}
            if status is not None:
                params["status"] = status
            page = self._http.json("GET", f"projects/{self.project_id}/reviews", params=params)
            for body in page:
                yield Review.from_json(body, self._http)
            if len(page) < page_size:
                return
            after = int(page[-1]["review_id"])

    def summary(self) -> ReviewSummary:
        """Reviews by status, overall and per worker (the project's managers)."""
        return ReviewSummary.from_json(
            self._http.json("GET", f"projects/{self.project_id}/reviews/summary")
        )

    def get(self, review_id: int) -> Review:
        """One review of this project; :class:`~expertloop.client.NotFound` if it does not
        exist, is another project's, or you may not see it."""
        body = self._http.json("GET", f"reviews/{int(review_id)}")
        if body["project_id"] != self.project_id:
            raise NotFound(f"review {review_id} is not in project {self.project_id}")
        return Review.from_json(body, self._http)

    def __repr__(self) -> str:
        return f"<Reviews of project {self.project_id}>"
