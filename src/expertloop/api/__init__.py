"""The REST API v1 (JSON): thin handlers over the services, and the annotator loop's fast path."""

from __future__ import annotations

from fastapi import FastAPI

from expertloop.api.errors import install_error_handlers
from expertloop.api.hot_path import AnnotatorLoop
from expertloop.api.openapi import install_contract
from expertloop.api.routes import (
    access,
    assignments,
    audit,
    auth,
    console_items,
    constitution_grading,
    constitution_votes,
    constitutions,
    exports,
    flags,
    health,
    imports,
    interchange,
    item_reports,
    items,
    jobs,
    llm,
    llm_judges,
    my_work,
    pay,
    projects,
    redteam,
    redundancy,
    reviews,
    users,
    workforce,
)
from expertloop.services.runtime import Runtime

__all__ = ["install_api"]


def install_api(app: FastAPI, runtime: Runtime) -> None:
    """Add the API's error handlers, the annotator loop and the ``/api/v1`` routes to ``app``."""
    install_error_handlers(app)
    app.add_middleware(
        AnnotatorLoop,
        database=runtime.database,
        authenticator=runtime.authenticator,
        claimable=runtime.claimable,
    )
    # Routes are matched in order: the annotator loop, the hot path, comes first.
    routers = (
        assignments,
        auth,
        access,
        users,
        workforce,
        projects,
        items,
        console_items,
        imports,
        reviews,
        redteam,
        exports,
        interchange,
        jobs,
        audit,
        item_reports,
        my_work,
        flags,
        redundancy,
        llm,
        constitutions,
        constitution_votes,
        constitution_grading,
        pay,
        llm_judges,
    )
    for module in routers:
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(health.router)
    install_contract(app)
