"""The one place where errors become HTTP responses: ``{"error": {code, message, details}}``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from expertloop.errors import ExpertloopError, InputInvalid, TooManyAttempts

__all__ = ["allowed_methods", "error_body", "install_error_handlers", "invalid_input"]

log = logging.getLogger("expertloop.api")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts)


def invalid_input(errors: Sequence[Any]) -> InputInvalid:
    """The error for a request that fails its schema (pydantic's ``errors()``): 422, with
    each failing field named."""
    details = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in errors]
    first = details[0] if details else {"field": "", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return InputInvalid(message, details=details)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers at the request's path. Starlette names only
    those of the first route whose path matches, so a path served by several routes (``POST``
    and ``DELETE /auth/token``) would get a wrong ``Allow``."""
    path = request.scope.get("path", "")
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        path_format, route_methods = route.path_format, route.methods
        if path_format and route_methods and compile_path(path_format)[0].match(path):
            methods |= route_methods
    order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return sorted(methods, key=lambda m: order.index(m) if m in order else len(order))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ExpertloopError)
    async def _expected(_: Request, exc: ExpertloopError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        if isinstance(exc, TooManyAttempts):
            headers["Retry-After"] = str(exc.retry_after)
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(invalid_input(exc.errors()).to_dict(), status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's answer to a body json.loads cannot decode at all (invalid UTF-8,
            # random bytes): a 422 like every other unreadable body.
            error = InputInvalid.on_field(
                "body", "the body is not valid JSON: it must be UTF-8 encoded JSON"
            )
            return JSONResponse(error.to_dict(), status_code=422)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, _exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal_error", "internal server error; see the server log"),
            status_code=500,
        )
