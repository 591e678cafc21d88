"""Items made from a published constitution version: each prompt and response is paired
with one principle, in turn, so every principle gets the same coverage.

The principles rotate across calls too: the first new item takes the principle after the
one the project's last item took (the rotation starts from the project's item count), so
batches of any size keep the coverage balanced. The assignment happens once, here, when the
items are made: serving an item costs nothing more (the principle is in its payload), and
every answer records the principle's key and the constitution version through its item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from expertloop.domain import User
from expertloop.domain.constitutions import can_manage_constitutions
from expertloop.errors import InputInvalid, PermissionDenied
from expertloop.services import constitutions
from expertloop.services.items import import_items
from expertloop.store import Database
from expertloop.store import constitutions as store

__all__ = ["MAX_RECORDS", "principle_items"]

MAX_RECORDS = 10_000


def principle_items(
    db: Database,
    *,
    actor: User,
    constitution_id: int,
    version: int,
    project_id: int,
    records: Sequence[Mapping[str, Any]],
) -> int:
    """Add one item per record (``prompt``, ``response``, optional ``external_id`` and other
    payload fields) to the project, each with the next principle of the version in its
    payload (``principle``: key, title, text; ``constitution_version``). The project's task
    type must take such payloads (``critique_revision`` does); returns how many were added."""
    if not can_manage_constitutions(actor):
        raise PermissionDenied("only managers make items from a constitution")
    if not records:
        raise InputInvalid.on_field("items", "give at least one item")
    if len(records) > MAX_RECORDS:
        raise InputInvalid.on_field("items", f"at most {MAX_RECORDS} items per request")
    found = constitutions.get_version(
        db, actor=actor, constitution_id=constitution_id, version=version
    )
    principles = found.principles
    with db.read() as conn:
        start = store.project_item_count(conn, project_id)
    made = []
    for n, record in enumerate(records):
        payload = {k: v for k, v in record.items() if k != "external_id"}
        principle = principles[(start + n) % len(principles)]
        payload["principle"] = {
            "key": principle.key, "title": principle.title, "text": principle.text
        }
        payload["constitution_version"] = found.version
        item: dict[str, Any] = {"payload": payload}
        if record.get("external_id") is not None:
            item["external_id"] = record["external_id"]
        made.append(item)
    return import_items(
        db, actor=actor, project_id=project_id, records=enumerate(made, start=1),
        source=f"constitution {constitution_id} version {version}",
    )
