"""The API's contract: every error a route can answer documented in OpenAPI with the one error
body, and the interactive docs (``/docs``) served from this server with a strict policy.

Errors every route shares are documented from what the route declares: a caller
(``CurrentUser``) can get 401 and 403, a path parameter 404, any parameter or body 422.
What only some routes answer (409, 413, 415, 429) they declare with
``responses=error_responses(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from expertloop.api import deps

__all__ = [
    "DOCS_CONTENT_SECURITY_POLICY",
    "ErrorBody",
    "ErrorDetail",
    "error_responses",
    "install_contract",
]

ERROR_DESCRIPTIONS = {
    400: "The request cannot be understood.",
    401: "Missing, invalid, revoked or expired credentials (`WWW-Authenticate: Bearer`).",
    403: "The caller's role or membership does not allow this, or a request authenticated "
    "by the browser session lacks its CSRF token.",
    404: "No such resource, or one the caller may not see.",
    409: "The request conflicts with the current state (see `error.code`).",
    413: "The body is larger than this route accepts.",
    415: "The body's content type is not one this route reads.",
    422: "Invalid input: `error.details` names each failing field.",
    429: "Too many failed sign-ins: `Retry-After` says in how many seconds to try again.",
    502: "A model provider failed or sent a malformed answer (`error.code` upstream_error).",
    503: "A model provider cannot be called as configured (its API key is missing).",
    504: "A model provider did not answer in time (`error.code` upstream_timeout).",
}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `not_found`.")
    message: str = Field(description="What went wrong, for people.")
    details: Any = Field(
        None, description="For invalid input, a list of `{field, message}`; else often null."
    )


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of the API has this body."""

    error: ErrorDetail


def _response(status: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[status]}
    if status == 429:
        doc["headers"] = {
            "Retry-After": {
                "description": "Seconds until a sign-in may be tried again.",
                "schema": {"type": "integer"},
            }
        }
    return doc


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that can also answer these statuses."""
    return {status: _response(status) for status in statuses}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def _shared_statuses(route: APIRoute) -> set[int]:
    dependant = route.dependant
    statuses: set[int] = set()
    if any(call is deps.authenticated_caller for call in _calls(dependant)):
        statuses |= {401, 403}
    if dependant.path_params:
        statuses.add(404)
    if (
        dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or route.body_field is not None
    ):
        statuses.add(422)
    return statuses


def _error_doc(status: int) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    if status == 429:
        doc["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return doc


def _document_errors(app: FastAPI, schema: dict[str, Any]) -> None:
    """Add the shared errors to each operation of ``schema``, and make FastAPI's own 422
    (``HTTPValidationError``) the error body the API really sends."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in (
        ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        .pop("$defs", {})
        .items()
    ):
        schemas.setdefault(name, definition)
    schemas.setdefault(
        "ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for route in iter_route_contexts(app.router.routes):
        original = route.original_route
        if not isinstance(original, APIRoute) or not route.path_format:
            continue
        operations = schema.get("paths", {}).get(route.path_format, {})
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(_shared_statuses(original)):
                if str(status) not in responses or status == 422:
                    responses[str(status)] = _error_doc(status)
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and unused not in str(schema.get("paths")):
            del schemas[unused]


DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        # Swagger UI sets style attributes on its elements; no script can come from them.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)

_DOCS_ASSETS = "/docs/assets"
_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API docs</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
# In a file of its own, not inline, so the page's policy can forbid inline script.
_DOCS_INIT = """\
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
})();
"""


def _docs_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def install_contract(app: FastAPI) -> None:
    """Document every route's errors in the schema (when it is first built), and serve
    ``/docs`` with Swagger UI's assets from the ``fastapi-offline`` package: no CDN, so the
    docs work offline and no third party sees who reads them."""
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document_errors(app, build_schema())
        return app.openapi_schema or build_schema()

    app.openapi = openapi  # type: ignore[method-assign]
    page = _DOCS_PAGE.format(
        title=app.title, assets=_DOCS_ASSETS, openapi_url=app.openapi_url or "/openapi.json"
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=_docs_headers())

    @app.get("/docs/init.js", include_in_schema=False)
    def docs_init() -> Response:
        return Response(_DOCS_INIT, media_type="text/javascript", headers=_docs_headers())

    assets = resources.files("fastapi_offline") / "static"
    app.mount(_DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
