"""``expertloop items``: importing a project's items from files, and exporting them to other
tools (Label Studio, Argilla) with their labels."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from expertloop.cli.common import database, err, fail, operator, progress_columns, refused, settings
from expertloop.errors import ExpertloopError

__all__ = ["group", "register"]

group = typer.Typer(help="Items of a project.", no_args_is_help=True)


@group.command("import")
def items_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="A JSON array of items, NDJSON (one item per line) or CSV with a header row, "
            "told apart by content; with --from, a Label Studio or Argilla export.",
            exists=True,
        ),
    ],
    project: Annotated[int, typer.Option(help="Project id.")],
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this manager.")] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Read another tool's export, labels included: label-studio (task JSON: "
            "annotations, predictions, ground truth) or argilla (2.x records, or the dataset "
            "as pushed to the Hugging Face Hub, as JSON or JSON lines).",
        ),
    ] = None,
) -> None:
    """Import items from a file: all of them, or none if any line is invalid."""
    from expertloop.domain import SuggestionSource
    from expertloop.services.interchange import SOURCES, foreign_records
    from expertloop.services.item_sources import (
        parse_csv_bytes,
        parse_json_array,
        parse_ndjson,
        sniff_format,
    )
    from expertloop.services.items import check_can_import, import_items

    if source is not None and source not in SOURCES:
        fail(f"--from must be one of {', '.join(SOURCES)}, not {source!r}")

    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            target = check_can_import(db, actor=actor, project_id=project)
        with file.open("rb") as handle:
            kind = sniff_format(handle.read(4096))
        with Progress(*progress_columns(), console=err, transient=False) as progress:
            size = file.stat().st_size
            reading = progress.add_task(f"validating {file.name}", total=size)

            def records() -> Any:
                if source is not None or kind != "ndjson":
                    body = file.read_bytes()
                    if source is not None:
                        yield from foreign_records(body, source=source, project=target)
                    elif kind == "json":
                        yield from parse_json_array(body)
                    else:
                        yield from parse_csv_bytes(body)
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
                    origin=SuggestionSource(source) if source else SuggestionSource.IMPORT,
                    on_validated=validated,
                )
            except ExpertloopError as exc:
                progress.stop()
                _print_import_errors(exc)
                raise typer.Exit(code=1) from None
            progress.update(storing, completed=count)
        typer.echo(json.dumps({"imported": count, "project": project}))


@group.command("export")
def items_export(
    project: Annotated[int, typer.Option(help="Project id.")],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="The tool whose import format to write: label-studio (tasks with annotations, "
            "predictions and ground truth) or argilla (2.x records with responses and "
            "suggestions).",
        ),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: standard output).")
    ] = None,
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this manager.")] = None,
) -> None:
    """Export the project's items, answers, gold and suggestions for Label Studio or Argilla."""
    from expertloop.services.interchange import SOURCES, export_to_tool

    if to not in SOURCES:
        fail(f"--to must be one of {', '.join(SOURCES)}, not {to!r}")
    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            records = export_to_tool(db, actor=actor, project_id=project, tool=to)
            handle = output.open("w", encoding="utf-8") if output else sys.stdout
            try:
                handle.write("[")
                for n, record in enumerate(records):
                    handle.write((",\n" if n else "\n") + json.dumps(record, ensure_ascii=False))
                handle.write("\n]\n")
            finally:
                if output:
                    handle.close()


def _print_import_errors(exc: ExpertloopError) -> None:
    err.print(f"[red]error:[/red] {exc.message}", highlight=False)
    details = exc.details if isinstance(exc.details, dict) else {}
    for problem in details.get("errors", [])[:20]:
        field = f" {problem['field']}:" if problem["field"] else ""
        err.print(f"  line {problem['line']}:{field} {problem['message']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="items")
