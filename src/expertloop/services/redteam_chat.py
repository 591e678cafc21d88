"""The live conversation of a red-team assignment: the expert's message goes, with the
history, to the target model through :func:`expertloop.services.llm.complete` (which
records the call), and both turns are stored in ``redteam_turns``.

Idempotent by turn index: the expert's message is stored first (unique per assignment and
index), so of two requests for one index only one calls the model; a retry of a stored
index with the same text gets the stored reply; another text at a taken index is refused.
A message whose call failed is forgotten, so it can be sent again; one whose request died
mid-call is taken over by a retry after :data:`PENDING_STALE_SECONDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from expertloop.domain import AssignmentStatus, User
from expertloop.domain.redteam import TurnRole
from expertloop.errors import (
    AlreadyExists,
    ExpertloopError,
    InputInvalid,
    LeaseLost,
    NotFound,
    ReplyPending,
)
from expertloop.services import llm
from expertloop.store import Database
from expertloop.store import redteam as store
from expertloop.tasks import get_task_type
from expertloop.tasks.base import ChatTarget

__all__ = [
    "MAX_MESSAGE_CHARS",
    "PENDING_STALE_SECONDS",
    "PURPOSE",
    "SentTurn",
    "send_turn",
]

MAX_MESSAGE_CHARS = 20_000
# A message stored this long without its reply belongs to a request that died: a retry
# of the same message takes it over and calls the model.
PENDING_STALE_SECONDS = 600
PURPOSE = "redteam"


@dataclass(frozen=True, slots=True)
class SentTurn:
    """The conversation after a message: every turn, and whether the reply was new."""

    turns: list[store.StoredTurn]
    created: bool


def send_turn(
    db: Database, *, actor: User, assignment_id: int, index: int, content: str
) -> SentTurn:
    """Send the expert's message (at turn ``index``: 0, 2, 4, ...) to the target and store
    both turns; a retry of a stored message returns the conversation with ``created=False``.

    Raises ``NotFound`` (not the caller's assignment), ``LeaseLost`` (409: the lease ended),
    ``InputInvalid`` (422: not a live red-team item, an index out of place, an empty or too
    long message, the conversation's limit reached), ``AlreadyExists`` (409: another message
    at this index; ``reply_pending`` while its reply is fetched), and the model provider's
    errors (404 unknown provider, 502/503/504), after which the message may be sent again.
    """
    if not isinstance(content, str) or not content.strip():
        raise InputInvalid.on_field("content", "write a message to send")
    if len(content) > MAX_MESSAGE_CHARS:
        raise InputInvalid.on_field(
            "content", f"a message is at most {MAX_MESSAGE_CHARS} characters"
        )
    if isinstance(index, bool) or not isinstance(index, int) or index < 0 or index % 2:
        raise InputInvalid.on_field("index", "the index of a message is 0, 2, 4, ...")
    now = db.clock.now()
    with db.read() as conn:
        found = store.live_assignment(conn, assignment_id)
        if found is None or found.worker_id != actor.id:
            raise NotFound(f"assignment {assignment_id} not found")
        turns = store.conversation(conn, assignment_id)
    if found.status != AssignmentStatus.LEASED or found.expires_at <= now:
        raise LeaseLost(f"assignment {assignment_id} is no longer active; it takes no message")
    task = get_task_type(found.task_type)
    config = task.validate_config(found.config)
    target = task.chat_target(found.payload, config) if task.conversational else None
    if target is None:
        raise InputInvalid(f"assignment {assignment_id} holds no live conversation")
    if index < len(turns):
        return _replay(db, found, target, turns, index, content)
    if index != len(turns):
        raise InputInvalid.on_field(
            "index", f"the conversation has {len(turns)} turns: the next message is {len(turns)}"
        )
    if index // 2 >= target.max_turns:
        raise InputInvalid.on_field(
            "index", f"this conversation has reached its limit of {target.max_turns} messages"
        )
    try:
        with db.write() as conn:
            turn_id = store.add_turn(
                conn, assignment_id=assignment_id, idx=index, role=TurnRole.USER,
                content=content, now=now,
            )
    except store.TurnTaken:
        # A concurrent request stored this index first.
        with db.read() as conn:
            turns = store.conversation(conn, assignment_id)
        return _replay(db, found, target, turns, index, content)
    return _reply(db, found, target, turns, index, turn_id, content)


def _replay(
    db: Database,
    found: store.LiveAssignment,
    target: ChatTarget,
    turns: list[store.StoredTurn],
    index: int,
    content: str,
) -> SentTurn:
    sent = turns[index]
    if sent.role != TurnRole.USER or sent.content != content:
        raise AlreadyExists.on_field(
            "index", f"turn {index} of this conversation is another message; reload it"
        )
    if index + 1 < len(turns):
        return SentTurn(turns, created=False)
    now = db.clock.now()
    if now - sent.created_at < timedelta(seconds=PENDING_STALE_SECONDS):
        raise ReplyPending("the reply to this message is still being fetched; try again shortly")
    with db.write() as conn:
        taken = store.retake_turn(conn, turn_id=sent.id, seen_at=sent.created_at, now=now)
    if not taken:
        raise ReplyPending("the reply to this message is still being fetched; try again shortly")
    return _reply(db, found, target, turns[:index], index, sent.id, content)


def _reply(
    db: Database,
    found: store.LiveAssignment,
    target: ChatTarget,
    history: list[store.StoredTurn],
    index: int,
    turn_id: int,
    content: str,
) -> SentTurn:
    messages = [{"role": "system", "content": target.system_prompt}] if target.system_prompt else []
    messages += [{"role": t.role, "content": t.content} for t in history[:index]]
    messages.append({"role": "user", "content": content})
    try:
        # Every attempt is a fresh sample of the target: never a recorded completion.
        completion = llm.complete(
            db, provider=target.provider, messages=messages, purpose=PURPOSE,
            project_id=found.project_id, item_id=found.item_id, cache=False,
        )
    except ExpertloopError:
        with db.write() as conn:
            store.drop_turn(conn, turn_id)
        raise
    try:
        with db.write() as conn:
            store.add_turn(
                conn, assignment_id=found.assignment_id, idx=index + 1,
                role=TurnRole.ASSISTANT, content=completion.text, now=db.clock.now(),
                call_id=completion.call_id, provider=completion.provider,
                model=completion.model,
            )
        created = True
    except store.TurnTaken:
        created = False  # a retry that took over a stale message answered it first
    with db.read() as conn:
        return SentTurn(store.conversation(conn, found.assignment_id), created=created)
