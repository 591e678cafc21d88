"""``expertloop export``: a training-ready dataset, with consensus computed now."""

from __future__ import annotations

import json
import os
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
        str,
        typer.Argument(
            metavar="FORMAT",
            help="preference, unpaired, sft, reward, scores, classification, rubric_rl or raw.",
        ),
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
        float | None,
        typer.Option(
            min=0,
            max=1,
            help="Drop rows whose consensus is less sure (default: drop rows no better "
            "than chance; 0 keeps every row).",
        ),
    ] = None,
    min_agreement: Annotated[
        float | None,
        typer.Option(min=0, max=1, help="Drop rows where fewer answers agree with it."),
    ] = None,
    include_gold: Annotated[
        bool, typer.Option("--include-gold", help="Export gold items too.")
    ] = False,
    criterion: Annotated[
        str | None,
        typer.Option(help="Pairwise, rating: the criterion that decides chosen/rejected."),
    ] = None,
    reviewed_only: Annotated[
        bool,
        typer.Option("--reviewed-only", help="Only answers a reviewer accepted or fixed."),
    ] = False,
    card: Annotated[
        Path | None,
        typer.Option(
            "--card",
            help="Write the dataset card here (default: next to --output, as "
            "<name>.README.md; --to hub puts README.md in the directory).",
        ),
    ] = None,
    push_to_hub: Annotated[
        str | None,
        typer.Option(
            "--push-to-hub",
            metavar="REPO",
            help="Upload the export (Parquet) and its card to this Hugging Face dataset "
            "repository (token from HF_TOKEN; HF_ENDPOINT for another Hub).",
        ),
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="With --push-to-hub: create the repository public.")
    ] = False,
    license: Annotated[
        str | None, typer.Option("--license", help="The card's licence (default: other).")
    ] = None,
    language: Annotated[
        list[str] | None,
        typer.Option("--language", help="The card's language code (repeat for several)."),
    ] = None,
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this manager.")] = None,
) -> None:
    """Export a training-ready dataset (TRL formats) and its dataset card, with consensus
    computed now; or push both to the Hugging Face Hub."""
    import tempfile

    from expertloop.exports.writers import write_rows
    from expertloop.services.exports import ExportOptions, count_answers, prepare_export

    if to not in tuple(ExportFile):
        fail(f"--to must be jsonl, parquet or hub, not {to!r}")
    if to != "jsonl" and output is None and push_to_hub is None:
        fail(f"--to {to} needs --output")
    token = os.environ.get("HF_TOKEN", "")
    if push_to_hub is not None and not token:
        fail("--push-to-hub needs a Hugging Face token in the HF_TOKEN environment variable")
    config = settings()
    options = ExportOptions(
        format=export_format,
        conversational=not standard,
        min_confidence=min_confidence,
        min_agreement=min_agreement,
        include_gold=include_gold,
        criterion=criterion,
        reviewed_only=reviewed_only,
        license=license,
        language=tuple(language or ()),
    )
    pushed = None
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
            if push_to_hub is not None:
                from expertloop.exports.hub import HUB_PARQUET_FILES
                from expertloop.exports.hub import push_to_hub as push

                with tempfile.TemporaryDirectory(prefix="expertloop-export-") as tmp:
                    parquet = Path(tmp) / "train.parquet"
                    with parquet.open("wb") as sink:
                        write_rows(batches, sink, output="parquet", schema=prepared.schema)
                    try:
                        pushed = push(
                            parquet,
                            prepared.card(HUB_PARQUET_FILES),
                            push_to_hub,
                            token=token,
                            endpoint=os.environ.get("HF_ENDPOINT") or None,
                            private=not public,
                        )
                    except RuntimeError as exc:
                        progress.stop()
                        fail(str(exc))
            elif to == "hub":
                from expertloop.exports.hub import HUB_DATA_FILES, save_dataset_dict

                assert output is not None
                with tempfile.TemporaryDirectory(prefix="expertloop-export-") as tmp:
                    parquet = Path(tmp) / "train.parquet"
                    with parquet.open("wb") as sink:
                        write_rows(batches, sink, output="parquet", schema=prepared.schema)
                    try:
                        save_dataset_dict(parquet, output, prepared.card(HUB_DATA_FILES))
                    except RuntimeError as exc:
                        progress.stop()
                        fail(str(exc))
            elif output is None:
                write_rows(batches, sys.stdout.buffer, output=to, schema=prepared.schema)
                sys.stdout.buffer.flush()
            else:
                with output.open("wb") as sink:
                    write_rows(batches, sink, output=to, schema=prepared.schema)
        # Inside the block: the card reads the database (the model judges' calibration).
        if to != "hub" and push_to_hub is None:
            card_path = card or (None if output is None else card_path_for(output))
            if card_path is not None:
                data_files = output.name if output is not None else "data." + to
                card_path.write_text(prepared.card(data_files), encoding="utf-8")
    stats = prepared.card_stats()
    summary = {
        "project": project,
        "format": export_format,
        "rows": stats.counts["rows"],
        "ties_dropped": stats.counts["ties_dropped"],
        "estimated_label_noise": stats.label_noise,
        "krippendorff_alpha": stats.agreement_alpha,
        **({"pushed": pushed} if pushed is not None else {}),
    }
    err.print(json.dumps(summary), highlight=False)


def card_path_for(output: Path) -> Path:
    """Where the card of an export written to ``output`` goes: ``<stem>.README.md`` beside
    it (never a ``README.md`` that may already be there)."""
    return output.with_name(output.stem + ".README.md")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
