"""The SDK's exceptions, mirroring the server's error codes.

Every error response of the API has the body
``{"error": {"code": ..., "message": ..., "details": ...}}``; the SDK raises it as an
:class:`ExpertloopAPIError` subclass chosen by ``code`` (or, for codes it does not know, by
HTTP status), carrying the server's ``status``, ``code``, ``message`` and ``details``.
Branch on the class or on ``code``, never on the message.

::

    ExpertloopClientError
    ├── NetworkError                     the server could not be reached (after retries)
    └── ExpertloopAPIError               the server answered with an error
        ├── NotAuthenticated             401
        ├── PermissionDenied             403
        │   └── WorkerPaused             403 worker_paused (a worker rule paused you)
        ├── NotFound                     404
        ├── Conflict                     409
        │   ├── AlreadyExists            409 already_exists
        │   ├── AlreadyAnswered          409 already_answered
        │   ├── LeaseLost                409 lease_lost
        │   └── ReviewClosed             409 review_closed
        ├── InvalidInput                 422 invalid_input
        │   ├── InvalidAnswer            422 invalid_answer
        │   ├── ImportFailed             422 import_failed (``.errors`` by line)
        │   ├── PayloadTooLarge          413
        │   └── UnsupportedMediaType     415
        └── ServerError                  5xx

Example::

    from expertloop.client import Client, NotFound

    client = Client("http://127.0.0.1:8000", "el_...")
    try:
        client.projects.get(999)
    except NotFound as exc:
        print(exc.status, exc.code, exc.message)   # 404 not_found project 999 not found
"""

from __future__ import annotations

import json
from typing import Any

import httpx

__all__ = [
    "AlreadyAnswered",
    "AlreadyExists",
    "Conflict",
    "ExpertloopAPIError",
    "ExpertloopClientError",
    "ImportFailed",
    "InvalidAnswer",
    "InvalidInput",
    "LeaseLost",
    "NetworkError",
    "NotAuthenticated",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ReviewClosed",
    "ServerError",
    "TooManyAttempts",
    "UnsupportedMediaType",
    "WorkerPaused",
    "error_from_response",
]


class ExpertloopClientError(Exception):
    """Base of every exception the SDK raises on purpose."""


class NetworkError(ExpertloopClientError):
    """The server could not be reached, or the connection broke, on every attempt.

    The underlying ``httpx`` exception is ``__cause__``. Requests that are safe to repeat
    (reads, answer submissions with their idempotency key, ``next``) were retried first.
    """


class ExpertloopAPIError(ExpertloopClientError):
    """The server answered with an error.

    Attributes:
        status: the HTTP status code, e.g. ``404``.
        code: the server's stable error code, e.g. ``"not_found"``.
        message: the server's message, for people.
        details: ``None``, or where the problem is (a list of ``{"field", "message"}``, or
            for imports ``{"errors": [...], "total_errors": n}``).
    """

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, code={self.code!r}, "
            f"message={self.message!r}, details={self.details!r})"
        )


class NotAuthenticated(ExpertloopAPIError):
    """No token, an unknown token, a suspended account, or a wrong username or password."""

    status = 401
    code = "not_authenticated"


class PermissionDenied(ExpertloopAPIError):
    """Authenticated, but your role may not do this."""

    status = 403
    code = "permission_denied"


class WorkerPaused(PermissionDenied):
    """A worker rule paused you in this project; ``message`` says why, with the numbers
    (``details``: ``paused_at``, ``reason``). A manager of the project can reinstate you."""

    code = "worker_paused"


class NotFound(ExpertloopAPIError):
    """No such project, assignment or path, or one you may not see."""

    status = 404
    code = "not_found"


class Conflict(ExpertloopAPIError):
    """The request conflicts with the current state (409)."""

    status = 409
    code = "conflict"


class AlreadyExists(Conflict):
    """A user with this username exists."""

    code = "already_exists"


class AlreadyAnswered(Conflict):
    """The assignment already has an answer under another idempotency key, or the key was
    already used for another answer."""

    code = "already_answered"


class LeaseLost(Conflict):
    """The lease ended and its slot went to another worker, or the assignment is no longer
    live (release)."""

    code = "lease_lost"


class ReviewClosed(Conflict):
    """The review was decided already, or another reviewer holds it: take the next one."""

    code = "review_closed"


class InvalidInput(ExpertloopAPIError):
    """The request does not have the required shape; ``details`` lists each field."""

    status = 422
    code = "invalid_input"


class InvalidAnswer(InvalidInput):
    """The answer does not satisfy the task type's answer schema."""

    code = "invalid_answer"


class ImportFailed(InvalidInput):
    """An item import was rejected whole; :attr:`errors` lists the bad records.

    When raised by :meth:`Items.add <expertloop.client.Items.add>`, line numbers count the
    records you passed (1-based), whatever chunk they were sent in; ``imported`` says how
    many records, all before the failed chunk, were stored.
    """

    code = "import_failed"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        imported: int = 0,
    ) -> None:
        super().__init__(message, status=status, code=code, details=details)
        self.imported = imported

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The problems as ``{"line", "field", "message"}`` dicts (at most 100 per chunk)."""
        if isinstance(self.details, dict) and isinstance(self.details.get("errors"), list):
            return list(self.details["errors"])
        return []

    @property
    def lines(self) -> list[int]:
        """The distinct line (record) numbers of :attr:`errors`, ascending."""
        return sorted({e["line"] for e in self.errors if isinstance(e.get("line"), int)})


class PayloadTooLarge(InvalidInput):
    """An import body larger than the server's ``EXPERTLOOP_MAX_IMPORT_BYTES``."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(InvalidInput):
    """An import body with a content type the server does not read."""

    status = 415
    code = "unsupported_media_type"


class TooManyAttempts(ExpertloopAPIError):
    """Too many failed sign-ins for this username or from this address (429).

    ``retry_after`` is how many seconds the server asked to wait (its ``Retry-After``).
    """

    status = 429
    code = "too_many_attempts"
    retry_after: int | None = None


class ServerError(ExpertloopAPIError):
    """The server failed (5xx); its log has the traceback."""

    status = 500
    code = "internal_error"


_BY_CODE: dict[str, type[ExpertloopAPIError]] = {
    cls.code: cls
    for cls in (
        NotAuthenticated,
        PermissionDenied,
        WorkerPaused,
        NotFound,
        AlreadyExists,
        AlreadyAnswered,
        LeaseLost,
        ReviewClosed,
        InvalidInput,
        InvalidAnswer,
        ImportFailed,
        PayloadTooLarge,
        UnsupportedMediaType,
        TooManyAttempts,
        ServerError,
    )
}
_BY_STATUS: dict[int, type[ExpertloopAPIError]] = {
    401: NotAuthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: InvalidInput,
    429: TooManyAttempts,
}


def error_from_response(response: httpx.Response) -> ExpertloopAPIError:
    """The exception for an error response (status >= 400), read from its error body.

    A body that is not the API's error shape (e.g. a proxy's HTML page) still gives an
    exception of the status's class, with code ``http_error`` and the start of the body.
    """
    status = response.status_code
    code, message, details = "http_error", "", None
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        code = error["code"]
        message = str(error.get("message") or "")
        details = error.get("details")
    else:
        text = response.content[:200].decode("utf-8", errors="replace").strip()
        message = f"HTTP {status} {response.reason_phrase}" + (f": {text}" if text else "")
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else ExpertloopAPIError
    error_object = cls(message, status=status, code=code, details=details)
    if isinstance(error_object, TooManyAttempts):
        retry_after = response.headers.get("Retry-After", "")
        error_object.retry_after = int(retry_after) if retry_after.isdigit() else None
    return error_object
