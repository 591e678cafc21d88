"""``expertloop items``: importing a project's items from files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from expertloop.cli.common import database, err, fail, operator, progress_columns, settings
from expertloop.errors import ExpertloopError

__all__ = ["group", "register"]

group = typer.Typer(help="Items of a project.", no_args_is_help=True)


@group.command("import")
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
        fail(f"--from must be one of {', '.join(SOURCES)}, not {source!r}")

    with database(settings()) as db:
        actor = operator(db, as_user)
        with Progress(*progress_columns(), console=err, transient=False) as progress:
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
                    db,
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


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="items")
