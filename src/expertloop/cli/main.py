"""``expertloop``: serve, migrate, manage users and projects, import, review and export.

Configuration comes from ``EXPERTLOOP_*`` environment variables (see ``docs/configuration.md``).
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from expertloop.domain import Review, Role, User
from expertloop.errors import ExpertloopError
from expertloop.settings import Settings
from expertloop.store import Database
from expertloop.tasks import TASK_TYPES

app = typer.Typer(
    name="expertloop",
    help="Expert human feedback for AI training.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
project_app = typer.Typer(help="Projects.", no_args_is_help=True)
items_app = typer.Typer(help="Items of a project.", no_args_is_help=True)
answers_app = typer.Typer(help="Answers of a project.", no_args_is_help=True)
reviews_app = typer.Typer(help="The review queue of a project.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(project_app, name="project")
app.add_typer(items_app, name="items")
app.add_typer(answers_app, name="answers")
app.add_typer(reviews_app, name="reviews")

err = Console(stderr=True, soft_wrap=True)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            message = error["msg"].removeprefix("Value error, ")
            if error["loc"]:
                variable = "EXPERTLOOP_" + "_".join(str(p) for p in error["loc"]).upper()
                message = f"{variable}: {message}"
            problems.append(message)
        _fail("invalid configuration: " + "; ".join(problems))


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code=1)


@contextmanager
def _database(settings: Settings) -> Iterator[Database]:
    """The configured database, migrated to the newest schema, closed afterwards."""
    from expertloop.store import upgrade

    try:
        database = Database(
            settings.resolved_database_url,
            pool_size=settings.db_pool_size,
            sqlite_synchronous=settings.sqlite_synchronous,
        )
        upgrade(database)
    except Exception as exc:
        _fail(f"cannot open the database {settings.resolved_database_url!r}: {exc}")
    try:
        yield database
    finally:
        database.dispose()


def _operator(database: Database, username: str | None) -> User:
    """The account a CLI command acts as: the named one, or the first admin."""
    from expertloop.store import users as user_store

    with database.read() as conn:
        people = user_store.list_users(conn)
    if username is not None:
        for user in people:
            if user.username == username:
                return user
        _fail(f"no user named {username!r}")
    for user in people:
        if user.role is Role.ADMIN:
            return user
    _fail("no admin account yet: create one with `expertloop user create NAME --role admin`")


@app.callback()
def _main() -> None:
    """Expert human feedback for AI training."""


@app.command()
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
    from expertloop.api.server import ServerOptions, run_server

    settings = _settings()
    with _database(settings) as database:
        if workers > 1 and database.is_sqlite:
            _fail("SQLite serves one process; use PostgreSQL for --workers > 1")
        if demo:
            from expertloop.services.demo import seed_demo

            seeded = seed_demo(database)
            err.print(seeded.instructions(f"http://{host}:{port}"), highlight=False)
    options = ServerOptions(
        host=host,
        port=port,
        processes=workers,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
    )
    raise typer.Exit(run_server(options))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all pending migrations (safe to run repeatedly and from many hosts)."""
    from expertloop.store.migrate import current_revision

    with _database(_settings()) as database:
        err.print(f"database at revision {current_revision(database)}", highlight=False)


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[Role, typer.Option(help="admin, manager, reviewer or worker.")],
    password: Annotated[
        str | None, typer.Option(help="Password; omit to read it from standard input.")
    ] = None,
) -> None:
    """Create an account."""
    from expertloop.services.users import create_user

    if password is None:
        if sys.stdin.isatty():
            password = getpass.getpass("password: ")
        else:
            password = sys.stdin.readline().rstrip("\n")
    with _database(_settings()) as database:
        try:
            user = create_user(
                database, actor=None, username=username, password=password, role=role
            )
        except ExpertloopError as exc:
            _fail(exc.message)
        typer.echo(json.dumps({"id": user.id, "username": user.username, "role": user.role.value}))


def _json_option(value: str | None, name: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        _fail(f"{name} is not valid JSON: {exc.msg} at column {exc.colno}")


@project_app.command("create")
def project_create(
    name: Annotated[str, typer.Argument(help="Project name.")],
    task_type: Annotated[str, typer.Option(help=f"One of: {', '.join(sorted(TASK_TYPES))}.")],
    config: Annotated[
        str | None, typer.Option(help='Task config as JSON, e.g. \'{"labels": ["yes", "no"]}\'.')
    ] = None,
    guidelines: Annotated[
        Path | None, typer.Option(help="Markdown file with the guidelines.", exists=True)
    ] = None,
    answers_per_item: Annotated[int, typer.Option(min=1, max=100)] = 3,
    lease_seconds: Annotated[int, typer.Option(min=10, max=7 * 24 * 3600)] = 600,
    as_user: Annotated[
        str | None, typer.Option("--as", help="Act as this manager (default: first admin).")
    ] = None,
) -> None:
    """Create a project and print it as JSON."""
    from expertloop.services.projects import create_project

    with _database(_settings()) as database:
        actor = _operator(database, as_user)
        try:
            project = create_project(
                database,
                actor=actor,
                name=name,
                task_type=task_type,
                config=_json_option(config, "--config"),
                guidelines=guidelines.read_text(encoding="utf-8") if guidelines else "",
                answers_per_item=answers_per_item,
                lease_seconds=lease_seconds,
            )
        except ExpertloopError as exc:
            _fail(exc.message)
        typer.echo(json.dumps({"id": project.id, "name": project.name, "task_type": task_type}))


@project_app.command("list")
def project_list(
    as_user: Annotated[str | None, typer.Option("--as", help="List as this user.")] = None,
) -> None:
    """Print the projects (one JSON object per line) with their progress."""
    from expertloop.services.projects import list_projects, project_progress

    with _database(_settings()) as database:
        actor = _operator(database, as_user)
        for project in list_projects(database, actor=actor):
            counts = project_progress(database, actor=actor, project_id=project.id)
            row = {
                "id": project.id,
                "name": project.name,
                "task_type": project.task_type,
                "answers_per_item": project.answers_per_item,
                "items": counts.items,
                "items_complete": counts.items_complete,
                "answers": counts.answers,
            }
            typer.echo(json.dumps(row))


@project_app.command("add-members")
def project_add_members(
    project: Annotated[int, typer.Argument(help="Project id.")],
    usernames: Annotated[list[str], typer.Argument(help="Users to add.")],
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this manager.")] = None,
) -> None:
    """Add users (by username) to a project, so they can work on it."""
    from expertloop.services.projects import add_members
    from expertloop.store import users as user_store

    with _database(_settings()) as database:
        actor = _operator(database, as_user)
        with database.read() as conn:
            ids = {u.username: u.id for u in user_store.list_users(conn)}
        unknown = [name for name in usernames if name not in ids]
        if unknown:
            _fail(f"no such users: {', '.join(unknown)}")
        try:
            add_members(
                database, actor=actor, project_id=project, user_ids=[ids[n] for n in usernames]
            )
        except ExpertloopError as exc:
            _fail(exc.message)
    typer.echo(json.dumps({"project": project, "added": usernames}))


@items_app.command("import")
def items_import(
    file: Annotated[Path, typer.Argument(help="JSONL (one item per line) or CSV.", exists=True)],
    project: Annotated[int, typer.Option(help="Project id.")],
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this manager.")] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Read another tool's export: label-studio (task JSON) or argilla (records).",
        ),
    ] = None,
) -> None:
    """Import items from a file: all of them, or none if any line is invalid."""
    from expertloop.services.interchange import SOURCES, foreign_records
    from expertloop.services.item_sources import parse_csv_bytes, parse_ndjson
    from expertloop.services.items import import_items

    if source is not None and source not in SOURCES:
        _fail(f"--from must be one of {', '.join(SOURCES)}, not {source!r}")

    with _database(_settings()) as database:
        actor = _operator(database, as_user)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err, transient=False) as progress:
            size = file.stat().st_size
            reading = progress.add_task(f"validating {file.name}", total=size)

            def records() -> Any:
                if source is not None:
                    yield from foreign_records(file.read_bytes(), source=source)
                    progress.update(reading, completed=size)
                    return
                if file.suffix.lower() == ".csv":
                    yield from parse_csv_bytes(file.read_bytes())
                    progress.update(reading, completed=size)
                    return
                with file.open("rb") as handle:
                    for line, record in parse_ndjson(handle):
                        progress.update(reading, completed=handle.tell())
                        yield line, record

            storing = progress.add_task("storing", total=None, visible=False)

            def validated(count: int) -> None:
                progress.update(storing, total=count, visible=True)

            try:
                count = import_items(
                    database,
                    actor=actor,
                    project_id=project,
                    records=records(),
                    source=str(file),
                    on_validated=validated,
                )
            except ExpertloopError as exc:
                progress.stop()
                _print_import_errors(exc)
                raise typer.Exit(code=1) from None
            progress.update(storing, completed=count)
        typer.echo(json.dumps({"imported": count, "project": project}))


def _print_import_errors(exc: ExpertloopError) -> None:
    err.print(f"[red]error:[/red] {exc.message}", highlight=False)
    details = exc.details if isinstance(exc.details, dict) else {}
    for problem in details.get("errors", [])[:20]:
        field = f" {problem['field']}:" if problem["field"] else ""
        err.print(f"  line {problem['line']}:{field} {problem['message']}", highlight=False)


@answers_app.command("export")
def answers_export(
    project: Annotated[int, typer.Option(help="Project id.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default stdout.")
    ] = None,
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this manager.")] = None,
) -> None:
    """Write every answer of a project as NDJSON."""
    from expertloop.services.answers import answer_row_json, iter_answers

    with _database(_settings()) as database:
        actor = _operator(database, as_user)
        try:
            rows = iter_answers(database, actor=actor, project_id=project)
        except ExpertloopError as exc:
            _fail(exc.message)
        sink = output.open("wb") if output else sys.stdout.buffer
        count = 0
        try:
            for row in rows:
                sink.write(answer_row_json(row))
                count += 1
        finally:
            if output:
                sink.close()
        err.print(f"exported {count} answers", highlight=False)


REVIEW_STATUSES = ("pending", "accepted", "rejected", "fixed")


def _answer_ids_option(value: str) -> list[int]:
    """``--answer-ids 1,2,3`` as a list of ids; a usage error (exit 2) if it is not one."""
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if not parts:
        raise typer.BadParameter("give answer ids, e.g. 1,2,3", param_hint="--answer-ids")
    try:
        ids = [int(part) for part in parts]
    except ValueError:
        bad = next(p for p in parts if not p.lstrip("-").isdigit())
        raise typer.BadParameter(
            f"{bad!r} is not an answer id; give ids separated by commas, e.g. 1,2,3",
            param_hint="--answer-ids",
        ) from None
    if any(i < 1 for i in ids):
        raise typer.BadParameter("answer ids are positive integers", param_hint="--answer-ids")
    return ids


def _user_id(database: Database, value: str) -> int:
    """A user named on the command line by id or by username."""
    from expertloop.store import users as user_store

    with database.read() as conn:
        people = user_store.list_users(conn)
    if value.isdigit() and any(u.id == int(value) for u in people):
        return int(value)
    for user in people:
        if user.username == value:
            return user.id
    _fail(f"no user with id or username {value!r}")


def _review_row(review: Review) -> dict[str, Any]:
    """A review as ``GET /api/v1/reviews/{id}`` returns it (the API's own schema)."""
    from expertloop.api.schemas import ReviewPublic

    return ReviewPublic.of(review).model_dump(mode="json")


@reviews_app.command("request")
def reviews_request(
    project: Annotated[int, typer.Argument(help="Project id.")],
    fraction: Annotated[
        float | None,
        typer.Option(
            help="Sample this share (above 0, at most 1) of the answers not queued yet "
            "(gold items are never sampled)."
        ),
    ] = None,
    count: Annotated[
        int | None, typer.Option(help="Sample this many answers not queued yet.")
    ] = None,
    answer_ids: Annotated[
        str | None, typer.Option("--answer-ids", help="Queue these answers, e.g. 1,2,3.")
    ] = None,
    worker: Annotated[
        str | None,
        typer.Option(help="Sample only this worker's answers (user id or username)."),
    ] = None,
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this manager.")] = None,
) -> None:
    """Queue answers for review: a random sample (--fraction or --count), or --answer-ids."""
    # Samples leave out gold items (gold checks them); no answer is ever queued twice.
    from expertloop.services.reviews import request_reviews

    given = [
        name
        for name, value in (
            ("--fraction", fraction),
            ("--count", count),
            ("--answer-ids", answer_ids),
        )
        if value is not None
    ]
    if len(given) != 1:
        got = f" (got {' and '.join(given)})" if given else ""
        # A usage error (exit 2), like click's own; typer exports no UsageError.
        raise typer.BadParameter(f"give exactly one of --fraction, --count and --answer-ids{got}")
    if fraction is not None and not 0 < fraction <= 1:
        raise typer.BadParameter("must be above 0 and at most 1", param_hint="--fraction")
    if count is not None and count < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--count")
    ids = _answer_ids_option(answer_ids) if answer_ids is not None else None
    if ids is not None and worker is not None:
        raise typer.BadParameter(
            "applies to samples (--fraction, --count) only", param_hint="--worker"
        )
    with _database(_settings()) as database:
        actor = _operator(database, as_user)
        worker_id = _user_id(database, worker) if worker is not None else None
        try:
            queued = request_reviews(
                database,
                actor=actor,
                project_id=project,
                fraction=fraction,
                count=count,
                worker_id=worker_id,
                answer_ids=ids,
            )
        except ExpertloopError as exc:
            _fail(exc.message)
    typer.echo(json.dumps({"project": project, "queued": queued}))


@reviews_app.command("summary")
def reviews_summary(
    project: Annotated[int, typer.Argument(help="Project id.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (as the API returns) instead of tables.")
    ] = False,
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this manager.")] = None,
) -> None:
    """Show the reviews by outcome, and per worker with their acceptance rate."""
    from rich.table import Table

    from expertloop.services.reviews import review_summary

    with _database(_settings()) as database:
        actor = _operator(database, as_user)
        try:
            summary = review_summary(database, actor=actor, project_id=project)
        except ExpertloopError as exc:
            _fail(exc.message)
    if as_json:
        typer.echo(
            json.dumps({"project": project, "counts": summary.counts, "workers": summary.workers})
        )
        return

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    out = Console(highlight=False)
    counts = summary.counts
    decided = sum(counts.get(k, 0) for k in ("accepted", "rejected", "fixed"))
    overall = counts.get("accepted", 0) / decided if decided else None
    totals = Table(title=f"Reviews of project {project}")
    totals.add_column("Outcome")
    totals.add_column("Reviews", justify="right")
    for status in REVIEW_STATUSES:
        totals.add_row(status, str(counts.get(status, 0)), end_section=status == "fixed")
    totals.add_row("total", str(sum(counts.values())))
    totals.add_row("acceptance rate", rate(overall))
    out.print(totals)
    if not summary.workers:
        out.print("No answers queued for review yet: `expertloop reviews request`.")
        return
    workers = Table(title="By worker")
    workers.add_column("Worker")
    workers.add_column("Id", justify="right")
    for name in ("Accepted", "Rejected", "Fixed", "Pending", "Acceptance rate"):
        workers.add_column(name, justify="right")
    for row in summary.workers:
        workers.add_row(
            str(row["username"]),
            str(row["worker_id"]),
            str(row["accepted"]),
            str(row["rejected"]),
            str(row["fixed"]),
            str(row["pending"]),
            rate(row["acceptance_rate"]),
        )
    out.print(workers)
    out.print("Acceptance rate: the share of decided reviews accepted as they were.")


@reviews_app.command("list")
def reviews_list(
    project: Annotated[int, typer.Argument(help="Project id.")],
    status: Annotated[
        str | None, typer.Option(help="Only these: pending, accepted, rejected or fixed.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default stdout.")
    ] = None,
    as_user: Annotated[
        str | None, typer.Option("--as", help="Act as this reviewer or manager.")
    ] = None,
) -> None:
    """Write the project's reviews (answer, decision, comment) as NDJSON, in id order."""
    from expertloop.services.reviews import MAX_LISTED, list_reviews

    if status is not None and status not in REVIEW_STATUSES:
        raise typer.BadParameter(
            f"{status!r} is not one of {', '.join(REVIEW_STATUSES)}", param_hint="--status"
        )
    with _database(_settings()) as database:
        actor = _operator(database, as_user)

        def page(after: int) -> list[Review]:
            try:
                return list_reviews(
                    database,
                    actor=actor,
                    project_id=project,
                    status=status,
                    after=after,
                    limit=MAX_LISTED,
                )
            except ExpertloopError as exc:
                _fail(exc.message)

        reviews = page(0)  # permission errors before anything is written
        sink = output.open("wb") if output else sys.stdout.buffer
        count = 0
        try:
            while reviews:
                for review in reviews:
                    # ASCII: payloads may hold U+2028, which str.splitlines() splits at.
                    sink.write(json.dumps(_review_row(review)).encode() + b"\n")
                    count += 1
                if len(reviews) < MAX_LISTED:
                    break
                reviews = page(reviews[-1].id)
        finally:
            if output:
                sink.close()
            else:
                sink.flush()
    err.print(f"listed {count} reviews", highlight=False)


@app.command("export")
def export(
    project: Annotated[int, typer.Argument(help="Project id.")],
    export_format: Annotated[
        str, typer.Argument(metavar="FORMAT", help="preference, unpaired, sft, reward or raw.")
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File (jsonl, parquet) or directory (hub)."),
    ] = None,
    to: Annotated[
        str, typer.Option("--to", help="jsonl, parquet, or hub (a saved DatasetDict + card).")
    ] = "jsonl",
    standard: Annotated[
        bool, typer.Option("--standard", help="Plain strings instead of chat messages.")
    ] = False,
    min_confidence: Annotated[
        float | None, typer.Option(min=0, max=1, help="Drop rows whose consensus is less sure.")
    ] = None,
    min_agreement: Annotated[
        float | None,
        typer.Option(min=0, max=1, help="Drop rows where fewer answers agree with it."),
    ] = None,
    include_gold: Annotated[
        bool, typer.Option("--include-gold", help="Export gold items too.")
    ] = False,
    criterion: Annotated[
        str | None, typer.Option(help="Pairwise: the criterion that decides chosen/rejected.")
    ] = None,
    reviewed_only: Annotated[
        bool,
        typer.Option("--reviewed-only", help="Only answers a reviewer accepted or fixed."),
    ] = False,
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this manager.")] = None,
) -> None:
    """Export a training-ready dataset (TRL formats) with consensus computed now."""
    import tempfile

    from expertloop.exports.writers import write_rows
    from expertloop.services.exports import ExportOptions, count_answers, prepare_export

    if to not in ("jsonl", "parquet", "hub"):
        _fail(f"--to must be jsonl, parquet or hub, not {to!r}")
    if to != "jsonl" and output is None:
        _fail(f"--to {to} needs --output")
    settings = _settings()
    options = ExportOptions(
        format=export_format,
        conversational=not standard,
        min_confidence=min_confidence,
        min_agreement=min_agreement,
        include_gold=include_gold,
        criterion=criterion,
        reviewed_only=reviewed_only,
    )
    with _database(settings) as database:
        actor = _operator(database, as_user)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err, transient=False) as progress:
            fitting = progress.add_task(
                "reading answers", total=count_answers(database, project) or None
            )
            try:
                prepared = prepare_export(
                    database,
                    actor=actor,
                    project_id=project,
                    options=options,
                    secret_key=settings.secret_key,
                    on_answers=lambda n: progress.advance(fitting, n),
                )
            except ExpertloopError as exc:
                progress.stop()
                _fail(exc.message)
            writing = progress.add_task("writing rows", total=prepared.n_items or None)
            batches = prepared.batches(on_items=lambda n: progress.advance(writing, n))
            if to == "hub":
                from expertloop.exports.hub import save_dataset_dict

                assert output is not None
                with tempfile.TemporaryDirectory(prefix="expertloop-export-") as tmp:
                    parquet = Path(tmp) / "train.parquet"
                    with parquet.open("wb") as sink:
                        write_rows(batches, sink, output="parquet", schema=prepared.schema)
                    try:
                        save_dataset_dict(parquet, output, prepared.card_stats().as_dict())
                    except RuntimeError as exc:
                        progress.stop()
                        _fail(str(exc))
            elif output is None:
                write_rows(batches, sys.stdout.buffer, output=to, schema=prepared.schema)
                sys.stdout.buffer.flush()
            else:
                with output.open("wb") as sink:
                    write_rows(batches, sink, output=to, schema=prepared.schema)
    stats = prepared.card_stats()
    summary = {
        "project": project,
        "format": export_format,
        "rows": stats.counts["rows"],
        "ties_dropped": stats.counts["ties_dropped"],
        "estimated_label_noise": stats.label_noise,
        "krippendorff_alpha": stats.agreement_alpha,
    }
    err.print(json.dumps(summary), highlight=False)


from expertloop.cli import items_admin as _items_admin  # noqa: E402, F401  (its commands)

if __name__ == "__main__":  # pragma: no cover
    app()
