"""The annotator loop's two requests, served beside the framework rather than through it.

``POST /api/v1/projects/{id}/assignments/next`` and ``POST /api/v1/assignments/{id}/answer``
are nearly all of a busy server's traffic, and their database work is two short statements
each. FastAPI's middleware stack, routing and dependency solving cost more CPU than that
work, so :class:`AnnotatorLoop` (an ASGI layer in front of the app) serves these two requests
itself when they carry a bearer token: it matches the path, authenticates through the token
cache, validates the body with the same schema, calls the same services and writes the same
JSON. Every other request, including these two with a browser session cookie (CSRF checks),
goes to the FastAPI app, whose routes for the same paths (``routes/assignments.py``) are the
documented, general implementation and share the functions below.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from pydantic import ValidationError

from expertloop.api.errors import error_body, invalid_input
from expertloop.api.schemas import AnswerSubmit, AnswerTelemetryIn, iso_utc
from expertloop.domain import User
from expertloop.errors import ExpertloopError, InputInvalid, PayloadTooLarge
from expertloop.services import assignments
from expertloop.services.auth import TokenAuthenticator
from expertloop.services.worker_rules import Telemetry
from expertloop.store import Database

__all__ = [
    "MAX_ANSWER_BYTES",
    "AnnotatorLoop",
    "answer_response",
    "check_idempotency_key",
    "next_response",
]

log = logging.getLogger("expertloop.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Generous for long written answers (demonstrations, authored problems), small for a server.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
# Ids the hot path serves itself: every project id up to 9 digits (< 2**31) and assignment
# id up to 18 (< 2**63). Longer ones go to the app's routes, which refuse those out of range
# with 422 naming the parameter.
_NEXT = re.compile(r"/api/v1/projects/([0-9]{1,9})/assignments/next")
_ANSWER = re.compile(r"/api/v1/assignments/([0-9]{1,18})/answer")
_JSON_HEADERS = [(b"content-type", b"application/json")]


async def next_response(
    db: Database, actor: User, project_id: int, claimable: assignments.ClaimableProjects
) -> tuple[int, bytes]:
    """Status and body of a ``next`` request: 200 with the lease, 204 when nothing is left."""
    assignment = await db.run(
        assignments.next_assignment, actor=actor, project_id=project_id, claimable=claimable
    )
    if assignment is None:
        return 204, b""
    body = {
        "assignment_id": assignment.id,
        "project_id": assignment.project_id,
        "task_type": assignment.task_type,
        "item": {"id": assignment.item.id, "payload": assignment.item.payload},
        "expires_at": iso_utc(assignment.expires_at),
    }
    return 200, orjson.dumps(body)


def check_idempotency_key(key: str | None) -> None:
    if key is not None and not 1 <= len(key) <= 200:
        raise InputInvalid.on_field(
            "Idempotency-Key", "Idempotency-Key must be 1 to 200 characters"
        )


async def answer_response(
    db: Database,
    actor: User,
    assignment_id: int,
    answer: dict[str, Any],
    idempotency_key: str | None,
    telemetry: AnswerTelemetryIn | None = None,
) -> tuple[int, bytes]:
    """Status and body of an ``answer`` request: 201 when stored, 200 for a replay."""
    check_idempotency_key(idempotency_key)
    result = await db.run(
        assignments.submit_answer,
        actor=actor,
        assignment_id=assignment_id,
        answer=answer,
        idempotency_key=idempotency_key,
        telemetry=None if telemetry is None else Telemetry(**telemetry.model_dump()),
    )
    body = {
        "answer_id": result.answer_id,
        "assignment_id": result.assignment_id,
        "item_id": result.item_id,
        "answer": result.answer,
        "created_at": iso_utc(result.created_at),
        "guidelines_version": result.guidelines_version,
    }
    return (201 if result.created else 200), orjson.dumps(body)


class AnnotatorLoop:
    """ASGI layer that serves the loop's bearer-token requests and passes on the rest."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        database: Database,
        authenticator: TokenAuthenticator,
        claimable: assignments.ClaimableProjects,
    ):
        self.app = app
        self.database = database
        self.authenticator = authenticator
        self.claimable = claimable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        next_match = _NEXT.fullmatch(path)
        answer_match = None if next_match else _ANSWER.fullmatch(path)
        token = _bearer_token(scope) if next_match or answer_match else None
        if token is None:
            await self.app(scope, receive, send)
            return
        try:
            actor = await self._authenticate(token)
            if next_match:
                project_id = int(next_match[1])
                status, body = await next_response(self.database, actor, project_id, self.claimable)
            else:
                assert answer_match is not None
                submitted = _parse_answer(await _read_body(receive))
                status, body = await answer_response(
                    self.database,
                    actor,
                    int(answer_match[1]),
                    submitted.answer,
                    _header(scope, b"idempotency-key"),
                    submitted.telemetry,
                )
        except ExpertloopError as exc:
            status, body = exc.status, orjson.dumps(exc.to_dict())
        except Exception:
            log.exception("unhandled error on POST %s", path)
            status = 500
            body = orjson.dumps(
                error_body("internal_error", "internal server error; see the server log")
            )
        await _respond(send, status, body)

    async def _authenticate(self, token: str) -> User:
        user = self.authenticator.cached(token)
        if user is None:
            user = await self.database.run(_authenticate_uncached, self.authenticator, token)
        return user


def _authenticate_uncached(db: Database, authenticator: TokenAuthenticator, token: str) -> User:
    return authenticator.authenticate(token, db=db)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer`` header; ``None`` for anything else (the
    app then answers it, with its own errors)."""
    header = _header(scope, b"authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InputInvalid("the client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise PayloadTooLarge(f"an answer may be at most {MAX_ANSWER_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse_answer(body: bytes) -> AnswerSubmit:
    try:
        return AnswerSubmit.model_validate_json(body)
    except ValidationError as exc:
        # Located as the framework locates them: under "body" (the whole body when empty).
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise invalid_input(errors) from None


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [] if status == 204 else [*_JSON_HEADERS, (b"content-length", b"%d" % len(body))]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
