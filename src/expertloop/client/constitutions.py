"""Constitutions (``client.constitutions``): principles and their draft, published versions
with their diffs and exports, proposals and their decisions, the panel's votes on candidate
statements with the opinion groups, and grading against a version with the per-principle
statistics. See docs/constitutions.md.

Example::

    c = client.constitutions.create("Helpful and harmless")
    client.constitutions.put_principle(c, Principle("harmless-1", "No harm", "Refuse ..."))
    v1 = client.constitutions.publish(c, note="first version")
    print(client.constitutions.export(c, 1, format="markdown"))
    project_id = client.constitutions.grading_project(c, 1, "Grade v1")
    stats = client.constitutions.principle_stats(project_id)
    stats.unclear   # principles the experts disagree on: amend them
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from expertloop.client._http import Http, Retry
from expertloop.client.models import parse_time

__all__ = [
    "EXPORT_FORMATS",
    "Constitution",
    "ConstitutionVersion",
    "Constitutions",
    "OpinionGroup",
    "OpinionGroups",
    "Principle",
    "PrincipleChange",
    "PrincipleStats",
    "PrincipleStatsReport",
    "Proposal",
    "Statement",
    "StatementSupport",
]

#: The formats of a version's export: Markdown text or the JSON document.
EXPORT_FORMATS = ("markdown", "json")


def _id(value: Any) -> int:
    return value if isinstance(value, int) else int(value.id)


def _time(value: str | None) -> datetime | None:
    return None if value is None else parse_time(value)


@dataclass(frozen=True, slots=True)
class Principle:
    """One principle: its id (``key``: 1-64 of ``a-z0-9_.-``), title, text, rationale, and
    examples of responses that comply with it and that violate it."""

    key: str
    title: str
    text: str
    rationale: str = ""
    compliance_examples: tuple[str, ...] = ()
    violation_examples: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "title": self.title, "text": self.text,
            "rationale": self.rationale,
            "compliance_examples": list(self.compliance_examples),
            "violation_examples": list(self.violation_examples),
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Principle:
        return cls(
            body["key"], body["title"], body["text"], body.get("rationale", ""),
            tuple(body.get("compliance_examples", ())),
            tuple(body.get("violation_examples", ())),
        )


@dataclass(frozen=True, slots=True)
class Constitution:
    """``latest_version`` is the newest published version (0: none yet); ``draft_changed``
    whether the draft differs from it."""

    id: int
    name: str
    description: str
    created_at: datetime
    created_by: int | None
    latest_version: int
    draft_changed: bool

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Constitution:
        return cls(
            body["id"], body["name"], body["description"], parse_time(body["created_at"]),
            body["created_by"], body["latest_version"], body["draft_changed"],
        )


@dataclass(frozen=True, slots=True)
class ConstitutionVersion:
    """A published version: frozen, numbered from 1."""

    constitution_id: int
    version: int
    note: str
    published_at: datetime
    published_by: int | None
    principles: tuple[Principle, ...] = field(default_factory=tuple)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ConstitutionVersion:
        return cls(
            body["constitution_id"], body["version"], body["note"],
            parse_time(body["published_at"]), body["published_by"],
            tuple(Principle.from_json(p) for p in body["principles"]),
        )


@dataclass(frozen=True, slots=True)
class PrincipleChange:
    """One principle's change between two versions: ``change`` is ``added``, ``removed``,
    ``changed`` (``fields`` lists which; ``lines`` is a unified diff) or ``moved``."""

    key: str
    change: str
    fields: tuple[str, ...]
    lines: tuple[str, ...]
    before: Principle | None
    after: Principle | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> PrincipleChange:
        before, after = body.get("before"), body.get("after")
        return cls(
            body["key"], body["change"], tuple(body["fields"]), tuple(body["lines"]),
            None if before is None else Principle.from_json(before),
            None if after is None else Principle.from_json(after),
        )


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed ``add``, ``amend`` or ``remove`` with its reason; ``status`` is ``open``,
    ``accepted`` or ``rejected``."""

    id: int
    constitution_id: int
    kind: str
    principle_key: str
    principle: Principle | None
    reason: str
    status: str
    proposed_by: int | None
    created_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    decision_note: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Proposal:
        principle = body.get("principle")
        return cls(
            body["id"], body["constitution_id"], body["kind"], body["principle_key"],
            None if principle is None else Principle.from_json(principle), body["reason"],
            body["status"], body["proposed_by"], parse_time(body["created_at"]),
            body["decided_by"], _time(body["decided_at"]), body["decision_note"],
        )


@dataclass(frozen=True, slots=True)
class Statement:
    """A candidate statement with its vote counts and the caller's vote (or ``None``)."""

    id: int
    constitution_id: int
    text: str
    created_at: datetime
    agree: int
    disagree: int
    passes: int
    my_vote: str | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Statement:
        return cls(
            body["id"], body["constitution_id"], body["text"], parse_time(body["created_at"]),
            body["agree"], body["disagree"], body["passes"], body.get("my_vote"),
        )


@dataclass(frozen=True, slots=True)
class StatementSupport:
    """A statement's support (``(agree + 1) / (votes + 2)``) overall and per group."""

    statement_id: int
    text: str
    votes: int
    support: float
    group_votes: tuple[int, ...]
    group_support: tuple[float, ...]
    group_informed_consensus: float | None
    consensus: bool
    contested: bool


@dataclass(frozen=True, slots=True)
class OpinionGroup:
    """A group of voters, with their places on the first two components (``x``, ``y``)."""

    group: int
    size: int
    x: tuple[float, ...]
    y: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class OpinionGroups:
    """The panel grouped by its votes (``silhouette`` is ``None`` for a single group)."""

    voters: int
    ungrouped: int
    silhouette: float | None
    groups: tuple[OpinionGroup, ...]
    statements: tuple[StatementSupport, ...]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> OpinionGroups:
        return cls(
            body["voters"], body["ungrouped"], body["silhouette"],
            tuple(OpinionGroup(g["group"], g["size"], tuple(g["x"]), tuple(g["y"]))
                  for g in body["groups"]),
            tuple(StatementSupport(
                s["statement_id"], s["text"], s["votes"], s["support"],
                tuple(s["group_votes"]), tuple(s["group_support"]),
                s["group_informed_consensus"], s["consensus"], s["contested"],
            ) for s in body["statements"]),
        )

    @property
    def consensus(self) -> builtins.list[StatementSupport]:
        """The consensus candidates, best first (by group-informed consensus)."""
        found = [s for s in self.statements if s.consensus]
        return sorted(found, key=lambda s: -(s.group_informed_consensus or 0.0))


@dataclass(frozen=True, slots=True)
class PrincipleStats:
    """A principle's grades: verdicts given, the share that said not applicable, the items
    some expert found it applicable to, Krippendorff's alpha (``None``: undefined) with its
    bootstrap interval, and whether it is unclear (alpha below 0.667)."""

    key: str
    judgments: int
    not_applicable_rate: float | None
    coverage: int
    alpha: float | None
    alpha_low: float | None
    alpha_high: float | None
    unclear: bool


@dataclass(frozen=True, slots=True)
class PrincipleStatsReport:
    """Every principle's statistics (the constitution's order) and the unclear ones."""

    principles: tuple[PrincipleStats, ...]
    unclear: tuple[str, ...]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> PrincipleStatsReport:
        return cls(
            tuple(PrincipleStats(
                s["key"], s["judgments"], s["not_applicable_rate"], s["coverage"],
                s["alpha"], s.get("alpha_low"), s.get("alpha_high"), s["unclear"],
            ) for s in body["principles"]),
            tuple(body["unclear"]),
        )

    def __getitem__(self, key: str) -> PrincipleStats:
        for s in self.principles:
            if s.key == key:
                return s
        raise KeyError(key)


def _principle(value: Principle | dict[str, Any]) -> dict[str, Any]:
    return value.to_json() if isinstance(value, Principle) else dict(value)


class Constitutions:
    """``client.constitutions``. A constitution is given as an id or a
    :class:`Constitution`."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def _path(self, constitution: Any, rest: str = "") -> str:
        return f"constitutions/{_id(constitution)}{rest}"

    # --- constitutions and the draft ------------------------------------------------------

    def create(self, name: str, *, description: str = "") -> Constitution:
        """A new constitution with an empty draft (managers)."""
        return Constitution.from_json(self._http.json(
            "POST", "constitutions", retry=Retry.UNSENT,
            json_body={"name": name, "description": description},
        ))

    def list(self) -> builtins.list[Constitution]:
        """Every constitution."""
        return [Constitution.from_json(b) for b in self._http.json("GET", "constitutions")]

    def get(self, constitution: Any) -> Constitution:
        return Constitution.from_json(self._http.json("GET", self._path(constitution)))

    def draft(self, constitution: Any) -> builtins.list[Principle]:
        """The draft's principles, in order."""
        return [Principle.from_json(b)
                for b in self._http.json("GET", self._path(constitution, "/draft"))]

    def put_principle(
        self, constitution: Any, principle: Principle | dict[str, Any]
    ) -> Principle:
        """Add the principle to the draft, or replace the one with its key (managers)."""
        body = _principle(principle)
        return Principle.from_json(self._http.json(
            "PUT", self._path(constitution, f"/draft/principles/{body['key']}"),
            json_body=body,
        ))

    def remove_principle(self, constitution: Any, key: str) -> None:
        """Take the principle out of the draft (managers)."""
        self._http.json("DELETE", self._path(constitution, f"/draft/principles/{key}"),
                        retry=Retry.UNSENT)

    # --- versions -------------------------------------------------------------------------

    def publish(self, constitution: Any, *, note: str = "") -> ConstitutionVersion:
        """Freeze the draft as the next version (managers)."""
        return ConstitutionVersion.from_json(self._http.json(
            "POST", self._path(constitution, "/versions"), retry=Retry.UNSENT,
            json_body={"note": note},
        ))

    def versions(self, constitution: Any) -> builtins.list[ConstitutionVersion]:
        """Every published version, oldest first."""
        return [ConstitutionVersion.from_json(b)
                for b in self._http.json("GET", self._path(constitution, "/versions"))]

    def version(self, constitution: Any, version: int) -> ConstitutionVersion:
        return ConstitutionVersion.from_json(
            self._http.json("GET", self._path(constitution, f"/versions/{version}"))
        )

    def export(
        self, constitution: Any, version: int, *, format: str = "markdown"
    ) -> str | dict[str, Any]:
        """A published version as Markdown text (``format="markdown"``) or as its JSON
        document (``"json"``, a dict)."""
        if format not in EXPORT_FORMATS:
            raise ValueError(f"unknown format {format!r}; one of {', '.join(EXPORT_FORMATS)}")
        response = self._http.send(
            "GET", self._path(constitution, f"/versions/{version}/export"),
            retry=Retry.SAFE, params={"format": format},
        )
        if format == "json":
            return dict(response.json())
        return response.text

    def diff(
        self, constitution: Any, from_version: int | None = None, to_version: int | None = None
    ) -> builtins.list[PrincipleChange]:
        """What changed from one version to another (``None``: the draft)."""
        params = {"from": from_version, "to": to_version}
        return [PrincipleChange.from_json(b) for b in self._http.json(
            "GET", self._path(constitution, "/diff"),
            params={k: v for k, v in params.items() if v is not None},
        )]

    # --- proposals ------------------------------------------------------------------------

    def propose(
        self,
        constitution: Any,
        kind: str,
        reason: str,
        *,
        principle: Principle | dict[str, Any] | None = None,
        principle_key: str | None = None,
    ) -> Proposal:
        """Propose to ``add`` or ``amend`` (give ``principle`` as it should read) or to
        ``remove`` (give ``principle_key``) a principle, with a reason (any account)."""
        body: dict[str, Any] = {"kind": kind, "reason": reason}
        if principle is not None:
            body["principle"] = _principle(principle)
        if principle_key is not None:
            body["principle_key"] = principle_key
        return Proposal.from_json(self._http.json(
            "POST", self._path(constitution, "/proposals"), retry=Retry.UNSENT, json_body=body,
        ))

    def proposals(
        self, constitution: Any, *, status: str | None = None
    ) -> builtins.list[Proposal]:
        """Proposals in id order, all or those with ``status`` (``open``, ``accepted``,
        ``rejected``)."""
        params = {} if status is None else {"status": status}
        return [Proposal.from_json(b) for b in self._http.json(
            "GET", self._path(constitution, "/proposals"), params=params,
        )]

    def decide(self, proposal: Any, *, accept: bool, note: str = "") -> Proposal:
        """Accept (the draft changes) or reject an open proposal (reviewers, managers)."""
        return Proposal.from_json(self._http.json(
            "POST", f"constitution-proposals/{_id(proposal)}/decision", retry=Retry.UNSENT,
            json_body={"accept": accept, "note": note},
        ))

    # --- the panel's votes ----------------------------------------------------------------

    def add_statement(self, constitution: Any, text: str) -> Statement:
        """Put a candidate statement to the panel (managers)."""
        return Statement.from_json(self._http.json(
            "POST", self._path(constitution, "/statements"), retry=Retry.UNSENT,
            json_body={"text": text},
        ))

    def statements(self, constitution: Any) -> builtins.list[Statement]:
        """The candidate statements with their counts and the caller's vote."""
        return [Statement.from_json(b)
                for b in self._http.json("GET", self._path(constitution, "/statements"))]

    def vote(self, statement: Any, vote: str) -> None:
        """Vote ``agree``, ``disagree`` or ``pass`` (a new vote replaces the old one)."""
        self._http.json("PUT", f"constitution-statements/{_id(statement)}/vote",
                        json_body={"vote": vote})

    def opinion_groups(self, constitution: Any) -> OpinionGroups:
        """The panel grouped by its votes, and each statement's support (managers)."""
        return OpinionGroups.from_json(
            self._http.json("GET", self._path(constitution, "/opinion-groups"))
        )

    # --- applying a version ---------------------------------------------------------------

    def grading_project(
        self,
        constitution: Any,
        version: int,
        name: str,
        *,
        answers_per_item: int = 3,
        guidelines: str = "",
    ) -> int:
        """Create a ``principle_grading`` project on the version's principles; its id."""
        body = self._http.json(
            "POST", self._path(constitution, f"/versions/{version}/grading-projects"),
            retry=Retry.UNSENT,
            json_body={"name": name, "answers_per_item": answers_per_item,
                       "guidelines": guidelines},
        )
        return int(body["project_id"])

    def critique_items(
        self, constitution: Any, version: int, project: Any,
        items: builtins.list[dict[str, Any]],
    ) -> int:
        """Add items to a ``critique_revision`` or ``principle_pairwise`` project, each
        paired with the version's next principle; the number added."""
        body = self._http.json(
            "POST", self._path(constitution, f"/versions/{version}/critique-items"),
            retry=Retry.UNSENT, json_body={"project_id": _id(project), "items": items},
        )
        return int(body["added"])

    def principle_stats(self, project: Any) -> PrincipleStatsReport:
        """A grading project's per-principle statistics (managers, reviewers)."""
        return PrincipleStatsReport.from_json(
            self._http.json("GET", f"projects/{_id(project)}/principle-stats")
        )
