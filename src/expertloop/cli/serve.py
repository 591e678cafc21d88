"""``expertloop serve``: migrate, optionally seed the demo, and run the HTTP server."""

from __future__ import annotations

from typing import Annotated

import typer

from expertloop.cli.common import database, err, fail, settings

__all__ = ["register", "serve"]


def serve(
    host: Annotated[
        str, typer.Option(envvar="EXPERTLOOP_HOST", help="Interface to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(envvar="EXPERTLOOP_PORT", help="TCP port.", min=1, max=65535)
    ] = 8000,
    workers: Annotated[
        int, typer.Option(envvar="EXPERTLOOP_WORKERS", help="Server processes.", min=1, max=64)
    ] = 1,
    demo: Annotated[
        bool, typer.Option("--demo", help="Seed a demo project and accounts first.")
    ] = False,
) -> None:
    """Upgrade the database schema, then run the HTTP server (API and docs at /docs)."""
    from expertloop.server import ServerOptions, run_server

    config = settings()
    if demo and config.is_production:
        fail(
            "--demo is refused when EXPERTLOOP_ENVIRONMENT=production: its accounts have "
            "published passwords"
        )
    with database(config) as db:
        if workers > 1 and db.is_sqlite:
            fail("SQLite serves one process; use PostgreSQL for --workers > 1")
        if demo:
            from expertloop.services.demo import seed_demo

            seeded = seed_demo(db)
            err.print(seeded.instructions(f"http://{host}:{port}"), highlight=False)
    options = ServerOptions(
        host=host,
        port=port,
        processes=workers,
        log_level=config.log_level,
        access_log=config.log_level == "debug",
    )
    raise typer.Exit(run_server(options))


def register(app: typer.Typer) -> None:
    app.command()(serve)
