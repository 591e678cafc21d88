"""``expertloop reviews``: queue answers for review, summarise and list the outcomes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from expertloop.cli.common import database, err, operator, refused, settings, user_id
from expertloop.domain import Review, ReviewOutcome, ReviewStatus

__all__ = ["REVIEW_STATUSES", "group", "register"]

group = typer.Typer(help="The review queue of a project.", no_args_is_help=True)

REVIEW_STATUSES = tuple(status.value for status in ReviewStatus)


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


def _review_row(review: Review) -> dict[str, Any]:
    """A review as ``GET /api/v1/reviews/{id}`` returns it (the API's own schema)."""
    from expertloop.api.schemas import ReviewPublic

    return ReviewPublic.of(review).model_dump(mode="json")


@group.command("request")
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
    with database(settings()) as db:
        actor = operator(db, as_user)
        worker_id = user_id(db, worker) if worker is not None else None
        with refused():
            queued = request_reviews(
                db,
                actor=actor,
                project_id=project,
                fraction=fraction,
                count=count,
                worker_id=worker_id,
                answer_ids=ids,
            )
    typer.echo(json.dumps({"project": project, "queued": queued}))


@group.command("summary")
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

    with database(settings()) as db:
        actor = operator(db, as_user)
        with refused():
            summary = review_summary(db, actor=actor, project_id=project)
    if as_json:
        typer.echo(
            json.dumps({"project": project, "counts": summary.counts, "workers": summary.workers})
        )
        return

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    out = Console(highlight=False)
    counts = summary.counts
    decided = sum(counts.get(k.value, 0) for k in ReviewOutcome)
    overall = counts.get(ReviewOutcome.ACCEPTED.value, 0) / decided if decided else None
    totals = Table(title=f"Reviews of project {project}")
    totals.add_column("Outcome")
    totals.add_column("Reviews", justify="right")
    for status in REVIEW_STATUSES:
        totals.add_row(status, str(counts.get(status, 0)), end_section=status == ReviewStatus.FIXED)
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


@group.command("list")
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
    with database(settings()) as db:
        actor = operator(db, as_user)

        def page(after: int) -> list[Review]:
            with refused():
                return list_reviews(
                    db,
                    actor=actor,
                    project_id=project,
                    status=status,
                    after=after,
                    limit=MAX_LISTED,
                )

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


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="reviews")
