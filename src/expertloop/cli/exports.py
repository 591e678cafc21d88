"""``expertloop export``: a training-ready dataset, with consensus computed now."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from expertloop.cli.common import database, err, fail, operator, progress_columns, settings
from expertloop.domain import ExportFile
from expertloop.errors import ExpertloopError

__all__ = ["export", "register"]


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

    if to not in tuple(ExportFile):
        fail(f"--to must be jsonl, parquet or hub, not {to!r}")
    if to != "jsonl" and output is None:
        fail(f"--to {to} needs --output")
    config = settings()
    options = ExportOptions(
        format=export_format,
        conversational=not standard,
        min_confidence=min_confidence,
        min_agreement=min_agreement,
        include_gold=include_gold,
        criterion=criterion,
        reviewed_only=reviewed_only,
    )
    with database(config) as db:
        actor = operator(db, as_user)
        with Progress(*progress_columns(), console=err, transient=False) as progress:
            fitting = progress.add_task("reading answers", total=count_answers(db, project) or None)
            try:
                prepared = prepare_export(
                    db,
                    actor=actor,
                    project_id=project,
                    options=options,
                    secret_key=config.secret_key,
                    on_answers=lambda n: progress.advance(fitting, n),
                )
            except ExpertloopError as exc:
                progress.stop()
                fail(exc.message)
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
                        fail(str(exc))
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


def register(app: typer.Typer) -> None:
    app.command("export")(export)
