"""A constitution's versions compared (a diff per principle) and written out as Markdown and
JSON, per version."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from expertloop.domain import User
from expertloop.domain.constitutions import Principle
from expertloop.services import constitutions
from expertloop.services.clock import iso_utc
from expertloop.store import Database

__all__ = [
    "PrincipleChange",
    "constitution_json",
    "constitution_markdown",
    "diff",
    "diff_principles",
]

_FIELDS = ("title", "text", "rationale", "compliance_examples", "violation_examples")


@dataclass(frozen=True, slots=True)
class PrincipleChange:
    """How one principle differs between two versions: ``added``, ``removed``, ``changed``
    (``fields`` names what changed; ``lines`` is a unified diff of them) or ``moved``."""

    key: str
    change: str
    fields: tuple[str, ...] = ()
    lines: tuple[str, ...] = field(default_factory=tuple)
    before: Principle | None = None
    after: Principle | None = None


def _field_lines(name: str, value: Any) -> list[str]:
    if isinstance(value, tuple):
        return [f"{name}[{n}]: {line}" for n, item in enumerate(value) for line in item.split("\n")]
    return [f"{name}: {line}" for line in str(value).split("\n")]


def diff_principles(
    old: Sequence[Principle], new: Sequence[Principle]
) -> list[PrincipleChange]:
    """Every principle that differs between ``old`` and ``new``, in the order of ``new``
    (removed ones last, in their old order). A principle whose fields are equal but whose
    place in the list changed is ``moved``."""
    before = {p.key: (n, p) for n, p in enumerate(old)}
    after_keys = {p.key for p in new}
    changes: list[PrincipleChange] = []
    old_order = [p.key for p in old if p.key in after_keys]
    new_order = [p.key for p in new if p.key in before]
    for principle in new:
        if principle.key not in before:
            changes.append(PrincipleChange(principle.key, "added", after=principle))
            continue
        previous = before[principle.key][1]
        fields = tuple(f for f in _FIELDS if getattr(previous, f) != getattr(principle, f))
        if fields:
            lines = tuple(
                line
                for f in fields
                for line in difflib.unified_diff(
                    _field_lines(f, getattr(previous, f)),
                    _field_lines(f, getattr(principle, f)),
                    lineterm="", n=1,
                )
                if not line.startswith(("---", "+++"))
            )
            changes.append(
                PrincipleChange(principle.key, "changed", fields, lines, previous, principle)
            )
        elif old_order.index(principle.key) != new_order.index(principle.key):
            changes.append(PrincipleChange(principle.key, "moved", before=previous,
                                           after=principle))
    changes.extend(
        PrincipleChange(p.key, "removed", before=p) for p in old if p.key not in after_keys
    )
    return changes


def _principles(
    db: Database, actor: User, constitution_id: int, version: int | None
) -> list[Principle]:
    if version is None:
        return constitutions.draft(db, actor=actor, constitution_id=constitution_id)
    found = constitutions.get_version(
        db, actor=actor, constitution_id=constitution_id, version=version
    )
    return list(found.principles)


def diff(
    db: Database,
    *,
    actor: User,
    constitution_id: int,
    from_version: int | None,
    to_version: int | None,
) -> list[PrincipleChange]:
    """What changed from one version to another (``None``: the draft; version 0 is the
    empty constitution before the first version)."""
    old = [] if from_version == 0 else _principles(db, actor, constitution_id, from_version)
    new = [] if to_version == 0 else _principles(db, actor, constitution_id, to_version)
    return diff_principles(old, new)


def constitution_json(
    db: Database, *, actor: User, constitution_id: int, version: int
) -> dict[str, Any]:
    """The published version as one JSON object (the documented export)."""
    meta = constitutions.get_constitution(db, actor=actor, constitution_id=constitution_id)
    found = constitutions.get_version(
        db, actor=actor, constitution_id=constitution_id, version=version
    )
    return {
        "constitution_id": meta.id,
        "name": meta.name,
        "description": meta.description,
        "version": found.version,
        "published_at": iso_utc(found.published_at),
        "note": found.note,
        "principles": [p.to_dict() for p in found.principles],
    }


def _quote(text: str) -> list[str]:
    return [f"> {line}" if line else ">" for line in text.split("\n")]


def constitution_markdown(
    db: Database, *, actor: User, constitution_id: int, version: int
) -> str:
    """The published version as a Markdown document: one section per principle, headed by
    its id and title, with its text, rationale and examples."""
    data = constitution_json(db, actor=actor, constitution_id=constitution_id, version=version)
    lines = [f"# {data['name']} — version {data['version']}", ""]
    if data["description"]:
        lines += [data["description"], ""]
    lines += [f"Published {data['published_at']}.", ""]
    if data["note"]:
        lines += [f"Note: {data['note']}", ""]
    for principle in data["principles"]:
        lines += [f"## `{principle['key']}` {principle['title']}", "", principle["text"], ""]
        if principle["rationale"]:
            lines += ["**Rationale.** " + principle["rationale"], ""]
        for heading, name in (("Complies", "compliance_examples"),
                              ("Violates", "violation_examples")):
            if principle[name]:
                lines += [f"**{heading}:**", ""]
                for example in principle[name]:
                    lines += [*_quote(example), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
