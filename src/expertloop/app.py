"""The application factory: ``create_app(settings)`` builds a complete, isolated app.

It sits above ``api/`` and ``web/``: it builds the shared :class:`Runtime` (database,
caches, background work) and hands it to each part in :data:`PARTS`, which adds its
routers, pages, middleware and background work. A new feature adds its installer to
:data:`PARTS`; nothing else here changes.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from expertloop import __version__
from expertloop.api import install_api
from expertloop.clock import SYSTEM_CLOCK, Clock
from expertloop.jobs import JobRunner
from expertloop.services.assignments import ClaimableProjects
from expertloop.services.auth import TokenAuthenticator
from expertloop.services.demo import demo_accounts_open
from expertloop.services.jobs import chosen_job_kinds
from expertloop.services.runtime import Background, Runtime
from expertloop.settings import Settings
from expertloop.store import Database
from expertloop.web import (
    console_exports,
    console_import,
    console_members,
    console_redteam,
    console_reviews,
    constitution_pages,
    constitution_stats,
    constitutions,
    install_console_people,
    install_console_projects,
    install_web_ui,
)
from expertloop.web import llm as llm_pages
from expertloop.web import pay as pay_pages
from expertloop.web.console_items import install_console_items
from expertloop.web.console_workforce import install_console_workforce
from expertloop.web.dashboard import install_dashboard
from expertloop.web.worker_flags import install_worker_flag_pages

__all__ = ["PARTS", "Install", "create_app"]

log = logging.getLogger("expertloop")

Install = Callable[[FastAPI, Runtime], None]

# In order: routes are matched in the order they are added, and the REST API (with the
# annotator loop, the hot path) comes first.
PARTS: tuple[Install, ...] = (
    install_api,
    install_web_ui,
    console_import.install,
    console_exports.install,
    console_reviews.install,
    install_console_projects,
    console_members.install,
    install_console_people,
    install_dashboard,
    install_console_items,
    install_worker_flag_pages,
    install_console_workforce,
    llm_pages.install,
    console_redteam.install,
    constitutions.install,
    constitution_pages.install,
    pay_pages.install,
    constitution_stats.install,
)


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """Build the app. The database schema must already be migrated (``expertloop db upgrade``;
    ``expertloop serve`` does it before starting). A ``database`` given here is the caller's
    to dispose of; one the app opens itself is closed when it stops.

    ``clock`` is where the app reads the time (default the machine's; tests pass a
    :class:`~expertloop.clock.FakeClock`). The database carries it to the services, so a
    given ``database`` brings its own clock and ``clock`` must then be left out.
    """
    settings = settings or Settings()
    if database is not None and clock is not None and clock is not database.clock:
        raise ValueError(
            "give the clock to the Database, whose services read it: Database(clock=...)"
        )
    db = database or Database(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        sqlite_synchronous=settings.sqlite_synchronous,
        clock=clock or SYSTEM_CLOCK,
    )
    runtime = Runtime(
        settings=settings,
        database=db,
        clock=db.clock,
        authenticator=TokenAuthenticator(db, ttl_seconds=settings.auth_cache_seconds),
        claimable=ClaimableProjects(settings.auth_cache_seconds, clock=db.clock),
    )
    # Background jobs (exports, consensus snapshots, the lease sweep) run on threads here;
    # ``job_workers=0`` leaves them to ``expertloop worker`` processes.
    job_runner = JobRunner(
        db, settings, threads=settings.job_workers, kinds=chosen_job_kinds(settings)
    )
    runtime.background.append(job_runner)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The long-lived objects of a started app (routes, schemas, SQL, templates) go to
        # the permanent generation, so full collections do not walk them mid-request.
        if settings.is_production:
            _warn_about_demo_accounts(db)
        gc.collect()
        gc.freeze()
        started: list[Background] = []
        try:
            for work in runtime.background:
                work.start()
                started.append(work)
            yield
        finally:
            for work in reversed(started):
                work.stop()
            if database is None:
                await db.dispose_async()

    app = FastAPI(
        title="expertloop",
        version=__version__,
        description="Expert human feedback for AI training: REST API v1.",
        lifespan=lifespan,
        # /docs is served by the API with Swagger UI's files from this server (no CDN);
        # ReDoc would load from a CDN, so it is off.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = db
    app.state.runtime = runtime
    app.state.job_runner = job_runner
    app.state.authenticator = runtime.authenticator
    app.state.claimable_projects = runtime.claimable
    app.state.extra_credentials = ()
    for install in PARTS:
        install(app, runtime)
    return app


def _warn_about_demo_accounts(db: Database) -> None:
    open_accounts = demo_accounts_open(db)
    if open_accounts:
        log.warning(
            "production server with demo accounts that sign in with their published demo "
            "passwords: %s; suspend them or change their passwords",
            ", ".join(open_accounts),
        )
