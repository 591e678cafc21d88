"""The one exception tree of expertloop.

Every error a user can cause is an :class:`ExpertloopError` with a stable machine-readable
``code``, a human ``message`` and optional ``details``. The API maps ``status`` to the HTTP
status code in one place (``api/errors.py``); the CLI prints the message.
"""

from __future__ import annotations

from typing import Any, Self

__all__ = [
    "AlreadyAnswered",
    "AlreadyExists",
    "AnswerInvalid",
    "ExpertloopError",
    "ImportFailed",
    "InputInvalid",
    "JobNotFinished",
    "LeaseExtensionLimit",
    "LeaseLost",
    "NotAuthenticated",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ReplyPending",
    "ReviewClosed",
    "TooLargeToStream",
    "TooManyAttempts",
    "UnsupportedMediaType",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "WorkerPaused",
]


class ExpertloopError(Exception):
    """Base of every expected error; carries what the client needs to understand it."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    @classmethod
    def on_field(cls, field: str, message: str) -> Self:
        """An error about one field, with ``details`` shaped like validation errors."""
        return cls(message, details=[{"field": field, "message": message}])

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InputInvalid(ExpertloopError):
    """A request body, argument or setting does not have the required shape."""

    status = 422
    code = "invalid_input"


class AnswerInvalid(InputInvalid):
    """An answer does not satisfy the task type's answer schema."""

    code = "invalid_answer"


class ImportFailed(InputInvalid):
    """An item import was rejected whole; ``details`` lists errors by line and field."""

    code = "import_failed"


class PayloadTooLarge(InputInvalid):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(InputInvalid):
    status = 415
    code = "unsupported_media_type"


class NotAuthenticated(ExpertloopError):
    status = 401
    code = "not_authenticated"


class PermissionDenied(ExpertloopError):
    status = 403
    code = "permission_denied"


class WorkerPaused(PermissionDenied):
    """A worker rule paused the worker in this project; ``message`` says why, with the
    numbers. A manager of the project can reinstate them."""

    code = "worker_paused"


class NotFound(ExpertloopError):
    status = 404
    code = "not_found"


class AlreadyExists(ExpertloopError):
    status = 409
    code = "already_exists"


class LeaseLost(ExpertloopError):
    """The lease expired and its slot went to someone else, or the item was given back."""

    status = 409
    code = "lease_lost"


class LeaseExtensionLimit(ExpertloopError):
    """The lease was extended as many times as the project allows."""

    status = 409
    code = "extension_limit"


class AlreadyAnswered(ExpertloopError):
    """The assignment already has an answer stored under another idempotency key."""

    status = 409
    code = "already_answered"


class ReviewClosed(ExpertloopError):
    """The review was decided already, or another reviewer holds it."""

    status = 409
    code = "review_closed"


class TooLargeToStream(ExpertloopError):
    """The request would stream too much at once; run it as a job instead."""

    status = 409
    code = "too_large_to_stream"


class JobNotFinished(ExpertloopError):
    """What was asked for is the output of a job that has not finished (or failed)."""

    status = 409
    code = "job_not_finished"


class UpstreamError(ExpertloopError):
    """A model provider answered with an error, or with something that is not a chat
    completion (malformed JSON, no choices), after the provider's retries."""

    status = 502
    code = "upstream_error"


class UpstreamTimeout(UpstreamError):
    """A model provider did not answer within the provider's timeout (after its retries)."""

    status = 504
    code = "upstream_timeout"


class UpstreamUnavailable(ExpertloopError):
    """A model provider cannot be called as configured: its API key's environment variable
    is unset, or its stored key cannot be decrypted with this server's secret key."""

    status = 503
    code = "provider_unavailable"


class TooManyAttempts(ExpertloopError):
    """Too many failed sign-ins for a username or from an address; try after ``retry_after``
    seconds (the API sends it as ``Retry-After``)."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class ReplyPending(AlreadyExists):
    """A red-team message's reply is still being fetched from the model (a retry came
    while the first request is waiting); try again shortly."""

    code = "reply_pending"
