"""The application factory: ``create_app(settings)`` builds a complete, isolated app."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from expertloop import __version__
from expertloop.api.errors import install_error_handlers
from expertloop.api.hot_path import AnnotatorLoop
from expertloop.api.routes import assignments, auth, exports, health, projects, reviews, users
from expertloop.api.routes import items as item_routes
from expertloop.services.assignments import ClaimableProjects
from expertloop.services.auth import TokenAuthenticator
from expertloop.services.leases import LeaseSweeper
from expertloop.settings import Settings
from expertloop.store import Database
from expertloop.web import install_web_ui

__all__ = ["create_app"]

log = logging.getLogger("expertloop")


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    """Build the app. The database schema must already be migrated (``expertloop db upgrade``;
    ``expertloop serve`` does it before starting)."""
    settings = settings or Settings()
    db = database or Database(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        sqlite_synchronous=settings.sqlite_synchronous,
    )
    sweeper = LeaseSweeper(db, interval_seconds=settings.lease_sweep_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The long-lived objects of a started app (routes, schemas, SQL, templates) go to
        # the permanent generation, so full collections do not walk them mid-request.
        gc.collect()
        gc.freeze()
        sweeper.start()
        try:
            yield
        finally:
            sweeper.stop()
            if database is None:
                await db.dispose_async()

    app = FastAPI(
        title="expertloop",
        version=__version__,
        description="Expert human feedback for AI training: REST API v1.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = db
    app.state.authenticator = TokenAuthenticator(db, ttl_seconds=settings.auth_cache_seconds)
    install_error_handlers(app)
    app.state.claimable_projects = ClaimableProjects(settings.auth_cache_seconds)
    app.add_middleware(
        AnnotatorLoop,
        database=db,
        authenticator=app.state.authenticator,
        claimable=app.state.claimable_projects,
    )
    # Routes are matched in order: the annotator loop, the hot path, comes first.
    for module in (assignments, auth, users, projects, reviews, exports, item_routes):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(health.router)
    install_web_ui(app)
    return app
