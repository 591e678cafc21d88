"""``expertloop redteam campaign|transcripts``: a red-team campaign's numbers and its
transcripts with labels, from the command line (see docs/redteam.md)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from expertloop.cli.common import database, err, fail, operator, refused, settings

__all__ = ["group", "register"]

group = typer.Typer(
    help="Red-team campaigns: their numbers and transcripts.", no_args_is_help=True
)

_AS = typer.Option("--as", help="Act as this manager or reviewer (default: the first admin).")


def _plain(value: str) -> Text:
    """Untrusted text for the terminal: no Rich markup, and control characters (a terminal
    escape in an attack or a model's name) shown as ``\\xNN`` instead of acted on."""
    return Text("".join(
        f"\\x{ord(c):02x}" if ord(c) < 32 or 0x7F <= ord(c) < 0xA0 else c for c in value
    ))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _rates(title: str, head: str, rows: list[Any]) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column(head)
    for name in ("Attempts", "Successes", "Confirmed", "Rejected", "Rate", "95% interval"):
        table.add_column(name, justify="right")
    for r in rows:
        # Names come from the project's config and the providers: text, never markup.
        table.add_row(
            _plain(r.key if r.name == r.key else f"{r.name} ({r.key})"),
            str(r.attempts), str(r.successes), str(r.confirmed), str(r.rejected),
            _pct(r.rate), "-" if r.lower is None else f"{_pct(r.lower)} to {_pct(r.upper)}",
        )
    return table


@group.command("campaign")
def redteam_campaign(
    project: Annotated[int, typer.Argument(help="Project id (a red-team project).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (as the API returns) instead of tables.")
    ] = False,
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """Show a campaign's numbers: success rates with intervals per attack category and per
    target model, the taxonomy's coverage, near-duplicate attacks. Exact: a snapshot that is
    behind is recomputed (and stored) first."""
    from rich.table import Table

    from expertloop.services.clock import iso_utc
    from expertloop.services.redteam_campaigns import read_campaign

    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            view = read_campaign(db, actor=actor, project_id=project, inline_max_attempts=None)
    numbers = view.campaign
    assert numbers is not None
    assert view.computed_at is not None
    if as_json:
        typer.echo(json.dumps({
            **numbers.to_dict(), "computed_at": iso_utc(view.computed_at),
            "stale": view.stale, "answers_behind": view.answers_behind, "refresh_job": None,
        }))
        return
    out = Console(highlight=False)
    out.print(
        f"Red-team campaign of project {project}: {numbers.attempts} attempts, "
        f"{numbers.successes} successes ({numbers.confirmed} confirmed by a reviewer), "
        f"{numbers.rejected} rejected in review; computed {iso_utc(view.computed_at)}.",
        markup=False,
    )
    out.print(_rates("By attack category", "Category", numbers.by_category))
    out.print(_rates("By target model", "Provider / model", numbers.by_target))
    total = len(numbers.covered) + len(numbers.uncovered)
    out.print(_plain(
        f"Coverage: {len(numbers.covered)} of {total} categories attempted"
        + (f"; not yet: {', '.join(numbers.uncovered)}." if numbers.uncovered else ".")
    ))
    if not numbers.duplicate_groups:
        out.print("No near-duplicate attacks.")
        return
    groups = Table(title="Near-duplicate attacks")
    groups.add_column("Answers")
    groups.add_column("Least similarity", justify="right")
    groups.add_column("Attack (first of the group)")
    for g in numbers.duplicate_groups:
        # The attack is an expert's text: shown as text (no markup, no control codes).
        groups.add_row(", ".join(map(str, g.answer_ids)), f"{g.similarity:.2f}", _plain(g.snippet))
    out.print(groups)


@group.command("transcripts")
def redteam_transcripts(
    project: Annotated[int, typer.Argument(help="Project id (a red-team project).")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The NDJSON file to write ('-': standard output).")
    ],
    as_user: Annotated[str | None, _AS] = None,
) -> None:
    """Write every attempt as a chat transcript with its labels and review, one JSON object
    per line (the API's transcript export). The file appears whole or not at all."""
    from expertloop.services.redteam import iter_transcripts, transcript_row_json

    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            rows = iter_transcripts(db, actor=actor, project_id=project)
        lines = (transcript_row_json(row) for row in rows)
        count = _to_stdout(lines) if str(out) == "-" else _write(out, lines)
    err.print(f"wrote {count} transcripts", highlight=False)


def _copy(lines: Any, file: Any) -> int:
    """Write the lines; how many there were."""
    return sum(1 for _ in map(file.write, lines))


def _to_stdout(lines: Any) -> int:
    count = _copy(lines, sys.stdout.buffer)
    sys.stdout.flush()
    return count


def _write(path: Path, lines: Any) -> int:
    """Write to a temporary file beside ``path``, then rename it into place."""
    directory = path.resolve().parent
    if not directory.is_dir():
        fail(f"--out: no directory {str(directory)!r}")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            count = _copy(lines, file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="redteam")
