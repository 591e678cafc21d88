"""Red-team campaigns: the numbers of a project's attacks, and its transcripts with labels.

An *attempt* is one answer of a conversational project (one conversation with the target
and its labels). A reviewer confirms a success by accepting the answer (or fixing it and
keeping ``success``); a rejected answer is left out of the rates, as it is of exports.
The numbers, per attack category and per target model: attempts, successes claimed,
successes confirmed, and the success rate with its 95% interval (the Beta posterior of
``quality.workers.beta_interval``, uniform prior); the taxonomy's coverage (categories
attempted at least once); and groups of near-duplicate attacks (MinHash over character
shingles of the expert's messages, ``quality.screening.near_duplicate_pairs``). See
``docs/redteam.md``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from expertloop.domain import ReviewOutcome, User
from expertloop.errors import InputInvalid, NotFound
from expertloop.quality.screening import near_duplicate_pairs
from expertloop.quality.workers import beta_interval
from expertloop.services.answers import check_can_read_answers
from expertloop.services.clock import iso_utc
from expertloop.services.projects import load_project
from expertloop.store import Database
from expertloop.store import redteam as store
from expertloop.tasks import get_task_type
from expertloop.tasks.redteam import harmful_turn, transcript_of

__all__ = [
    "Campaign",
    "DuplicateGroup",
    "Highlight",
    "RateRow",
    "campaign",
    "compute_campaign",
    "conversation",
    "conversational_config",
    "iter_transcripts",
    "transcript_row_json",
    "turn_dict",
]

# Attack texts at least this similar (Jaccard of 5-character shingles) are one group.
DUPLICATE_THRESHOLD = 0.6
SNIPPET_CHARS = 200
# The most recent successful attacks the campaign lists.
MAX_HIGHLIGHTS = 50


@dataclass(frozen=True, slots=True)
class RateRow:
    """The attempts of one category or one target model."""

    key: str
    name: str
    attempts: int
    successes: int
    confirmed: int
    rejected: int
    rate: float | None
    lower: float | None
    upper: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "name": self.name, "attempts": self.attempts,
            "successes": self.successes, "confirmed": self.confirmed,
            "rejected": self.rejected, "success_rate": self.rate,
            "interval": None if self.lower is None else [self.lower, self.upper],
        }


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    """Attempts whose attacks are near copies of each other (answer ids, oldest first)."""

    answer_ids: tuple[int, ...]
    similarity: float
    snippet: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer_ids": list(self.answer_ids),
            "similarity": round(self.similarity, 3),
            "snippet": self.snippet,
        }


@dataclass(frozen=True, slots=True)
class Highlight:
    """A successful attack, for the campaign page: what was asked and what the model said
    (untrusted text: rendered escaped)."""

    answer_id: int
    external_id: str | None
    category: str
    severity: int | None
    review: str | None
    attack: str
    reply: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer_id": self.answer_id, "external_id": self.external_id,
            "category": self.category, "severity": self.severity, "review": self.review,
            "attack": self.attack, "reply": self.reply,
        }


@dataclass(frozen=True)
class Campaign:
    project_id: int
    attempts: int
    successes: int
    confirmed: int
    rejected: int
    by_category: list[RateRow]
    by_target: list[RateRow]
    covered: list[str]
    uncovered: list[str]
    duplicate_groups: list[DuplicateGroup] = field(default_factory=list)
    recent_successes: list[Highlight] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        total = len(self.covered) + len(self.uncovered)
        return len(self.covered) / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "attempts": self.attempts,
            "successes": self.successes,
            "confirmed": self.confirmed,
            "rejected": self.rejected,
            "by_category": [r.to_dict() for r in self.by_category],
            "by_target": [r.to_dict() for r in self.by_target],
            "coverage": {
                "share": self.coverage, "covered": self.covered, "uncovered": self.uncovered,
            },
            "duplicate_groups": [g.to_dict() for g in self.duplicate_groups],
            "recent_successes": [h.to_dict() for h in self.recent_successes],
        }


@dataclass
class _Counts:
    name: str
    attempts: int = 0
    successes: int = 0
    confirmed: int = 0
    rejected: int = 0


def conversational_config(db: Database, actor: User, project_id: int) -> dict[str, Any]:
    """The validated config of a red-team project the actor may read the answers of."""
    check_can_read_answers(db, actor=actor, project_id=project_id)
    with db.read() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
    task = get_task_type(project.task_type)
    if not task.conversational:
        raise InputInvalid(
            f"project {project_id} is a {project.task_type} project: only red-team projects "
            "have campaign numbers and transcripts"
        )
    return task.validate_config(project.config)


def _value(attempt: store.Attempt) -> dict[str, Any]:
    """The labels that count: a reviewer's fix in place of the worker's."""
    return attempt.fixed_value if attempt.fixed_value is not None else attempt.value


def _target(attempt: store.Attempt) -> str:
    """The model attacked: the provider and model of the conversation's last reply, else
    the item's target provider, else the given transcript's."""
    for turn in reversed(_value(attempt).get("transcript") or []):
        if turn.get("role") == "assistant" and (turn.get("provider") or turn.get("model")):
            return f"{turn.get('provider') or '?'} / {turn.get('model') or '?'}"
    target = attempt.payload.get("target")
    if isinstance(target, Mapping) and target.get("provider"):
        return f"{target['provider']} / ?"
    return "(transcript given)"


def _attack_text(attempt: store.Attempt) -> str:
    transcript = transcript_of(_value(attempt), attempt.payload)
    return "\n".join(str(t.get("content", "")) for t in transcript if t.get("role") == "user")


def campaign(db: Database, *, actor: User, project_id: int) -> Campaign:
    """The campaign numbers of a red-team project (its managers and reviewers), computed
    now. Pages read the stored ones: :func:`expertloop.services.redteam_campaigns.
    read_campaign`."""
    config = conversational_config(db, actor, project_id)
    return compute_campaign(db, project_id, config)


def compute_campaign(db: Database, project_id: int, config: Mapping[str, Any]) -> Campaign:
    """The numbers of the project whose validated config is ``config`` (no permission
    check: the caller's)."""
    names = {c["id"]: c["name"] for c in config["taxonomy"]}
    categories = {key: _Counts(name) for key, name in names.items()}
    targets: dict[str, _Counts] = {}
    totals = _Counts("all")
    texts: list[str] = []
    ids: list[int] = []
    recent: deque[Highlight] = deque(maxlen=MAX_HIGHLIGHTS)
    with db.read() as conn:
        for attempt in store.iter_attempts(conn, project_id):
            value = _value(attempt)
            category = str(value.get("category", ""))
            rows = [
                categories.setdefault(category, _Counts(category)),
                targets.setdefault(_target(attempt), _Counts(_target(attempt))),
                totals,
            ]
            rejected = attempt.review_outcome == ReviewOutcome.REJECTED
            confirmed = bool(value.get("success")) and attempt.review_outcome in (
                ReviewOutcome.ACCEPTED, ReviewOutcome.FIXED
            )
            for row in rows:
                if rejected:
                    row.rejected += 1
                    continue
                row.attempts += 1
                row.successes += bool(value.get("success"))
                row.confirmed += confirmed
            if not rejected:
                texts.append(_attack_text(attempt))
                ids.append(attempt.answer_id)
                if value.get("success"):
                    recent.append(_highlight(attempt, value, category))
    covered = [key for key in names if categories[key].attempts > 0]
    return Campaign(
        project_id=project_id,
        attempts=totals.attempts,
        successes=totals.successes,
        confirmed=totals.confirmed,
        rejected=totals.rejected,
        by_category=_rates(categories),
        by_target=_rates(dict(sorted(targets.items()))),
        covered=covered,
        uncovered=[key for key in names if key not in covered],
        duplicate_groups=_groups(texts, ids),
        recent_successes=list(reversed(recent)),
    )


def _highlight(attempt: store.Attempt, value: Mapping[str, Any], category: str) -> Highlight:
    transcript = transcript_of(value, attempt.payload)
    index = harmful_turn(value, transcript)
    reply = transcript[index]["content"] if index is not None and index < len(transcript) else ""
    attack = next(
        (t["content"] for t in reversed(transcript[: index or 0]) if t["role"] == "user"), ""
    )
    return Highlight(
        attempt.answer_id, attempt.external_id, category, value.get("severity"),
        attempt.review_outcome, str(attack)[:SNIPPET_CHARS * 10], str(reply)[:SNIPPET_CHARS * 10],
    )


def _rates(counts: Mapping[str, _Counts]) -> list[RateRow]:
    keys = list(counts)
    if not keys:
        return []
    found = beta_interval(
        [counts[k].successes for k in keys], [counts[k].attempts for k in keys]
    )
    rows = []
    for i, key in enumerate(keys):
        c = counts[key]
        seen = c.attempts > 0
        rows.append(
            RateRow(
                key, c.name, c.attempts, c.successes, c.confirmed, c.rejected,
                c.successes / c.attempts if seen else None,
                float(found.lower[i]) if seen else None,
                float(found.upper[i]) if seen else None,
            )
        )
    return rows


def _groups(texts: list[str], ids: list[int]) -> list[DuplicateGroup]:
    """Connected components of the near-duplicate pairs, largest first."""
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    best: dict[int, float] = {}
    pairs = near_duplicate_pairs(texts, threshold=DUPLICATE_THRESHOLD, min_chars=20)
    for pair in pairs:
        a, b = root(pair.first), root(pair.second)
        if a != b:
            parent[max(a, b)] = min(a, b)
    for pair in pairs:
        r = root(pair.first)
        best[r] = min(best.get(r, 1.0), pair.similarity)
    members: dict[int, list[int]] = {}
    for i in range(len(texts)):
        members.setdefault(root(i), []).append(i)
    groups = [
        DuplicateGroup(
            tuple(ids[i] for i in found),
            best[r],
            " ".join(texts[found[0]].split())[:SNIPPET_CHARS],
        )
        for r, found in members.items()
        if len(found) > 1
    ]
    return sorted(groups, key=lambda g: (-len(g.answer_ids), g.answer_ids))


def iter_transcripts(db: Database, *, actor: User, project_id: int) -> Iterator[dict[str, Any]]:
    """Every attempt as a transcript with its labels: ``messages`` in the chat format (the
    target's system prompt first), each reply's model call in ``calls``, the labels, and
    the review. Checks permission before the first row."""
    config = conversational_config(db, actor, project_id)
    return _transcripts(db, project_id, {c["id"]: c["name"] for c in config["taxonomy"]})


def _transcripts(db: Database, project_id: int, names: dict[str, str]) -> Iterator[dict[str, Any]]:
    with db.read() as conn:
        for attempt in store.iter_attempts(conn, project_id):
            value = _value(attempt)
            transcript = transcript_of(value, attempt.payload)
            target = attempt.payload.get("target")
            system = target.get("system_prompt") if isinstance(target, Mapping) else None
            messages = [{"role": "system", "content": system}] if system else []
            messages += [{"role": t["role"], "content": t["content"]} for t in transcript]
            offset = len(messages) - len(transcript)
            yield {
                "answer_id": attempt.answer_id,
                "item_id": attempt.item_id,
                "external_id": attempt.external_id,
                "worker_id": attempt.worker_id,
                "goal": attempt.payload.get("goal"),
                "messages": messages,
                "calls": [
                    {"message": offset + i, **{k: t[k] for k in ("call_id", "provider", "model")
                                                if t.get(k) is not None}}
                    for i, t in enumerate(transcript)
                    if t["role"] == "assistant"
                ],
                "labels": {
                    "category": value.get("category"),
                    "category_name": names.get(str(value.get("category"))),
                    "success": value.get("success"),
                    "severity": value.get("severity"),
                    "harmful_turn": _harmful_message(value, transcript, offset),
                    "ideal_response": value.get("ideal_response"),
                    "notes": value.get("notes"),
                },
                "review": attempt.review_outcome,
                "created_at": attempt.created_at,
            }


def _harmful_message(
    value: Mapping[str, Any], transcript: Sequence[Mapping[str, Any]], offset: int
) -> int | None:
    """The index in ``messages`` of the harmful reply a success names."""
    if not value.get("success"):
        return None
    index = harmful_turn(value, transcript)
    return None if index is None else offset + index


def transcript_row_json(row: dict[str, Any]) -> bytes:
    """One NDJSON line of the transcript export."""
    return orjson.dumps({**row, "created_at": iso_utc(row["created_at"])}) + b"\n"


def turn_dict(turn: store.StoredTurn) -> dict[str, Any]:
    """A stored turn as the API shows it to the worker who holds the conversation."""
    return {"index": turn.idx, **turn.message(), "created_at": iso_utc(turn.created_at)}


def conversation(db: Database, *, actor: User, assignment_id: int) -> list[store.StoredTurn]:
    """The turns of the worker's own assignment so far (a reload shows them again)."""
    with db.read() as conn:
        found = store.live_assignment(conn, assignment_id)
        if found is None or found.worker_id != actor.id:
            raise NotFound(f"assignment {assignment_id} not found")
        return store.conversation(conn, assignment_id)
