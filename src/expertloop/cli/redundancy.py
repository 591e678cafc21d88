"""``expertloop project redundancy show|set|off|workers|replay``: adaptive redundancy from
the command line (the operator acts; see docs/quality.md)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from expertloop.cli.common import database, fail, refused, settings
from expertloop.cli.projects import group as project_group
from expertloop.quality.redundancy import DEFAULT_POLICY, policy_problem

__all__ = ["register"]

group = typer.Typer(
    help="Adaptive redundancy: stop collecting once an item's consensus is confident.",
    no_args_is_help=True,
)


MinAnswers = Annotated[int, typer.Option(help="Answers every item gets first.")]
MaxAnswers = Annotated[int, typer.Option(help="Answers an item never goes past.")]


def _echo(value: Any) -> None:
    typer.echo(json.dumps(value, default=str))


@group.command("show")
def show(project: Annotated[int, typer.Argument(help="Project id.")]) -> None:
    """The project's settings (adaptive false: answers_per_item on every item)."""
    from expertloop.services import redundancy as service

    with database(settings()) as db, refused():
        found = service.get_redundancy(db, actor=None, project_id=project)
    _echo({"adaptive": False} if found is None else {"adaptive": True, **found.as_dict()})


@group.command("set")
def set_(
    project: Annotated[int, typer.Argument(help="Project id.")],
    min_answers: MinAnswers = DEFAULT_POLICY.min_answers,
    max_answers: MaxAnswers = DEFAULT_POLICY.max_answers,
    target_confidence: Annotated[
        float, typer.Option(help="Stop once the consensus is this probable (0.5 to <1).")
    ] = DEFAULT_POLICY.target_confidence,
    audit_share: Annotated[
        float, typer.Option(help="Share of items (0 to 1) that get one answer more than "
                            "min-answers whatever their confidence (the audit sample).")
    ] = 0.0,
) -> None:
    """Turn adaptive redundancy on or change it; existing items follow in the background."""
    from expertloop.services import redundancy as service

    with database(settings()) as db, refused():
        done = service.set_redundancy(
            db, actor=None, project_id=project, min_answers=min_answers,
            max_answers=max_answers, target_confidence=target_confidence,
            audit_share=audit_share,
        )
    _echo({"adaptive": True, **done.as_dict()})


@group.command("off")
def off(project: Annotated[int, typer.Argument(help="Project id.")]) -> None:
    """Back to answers_per_item on every item."""
    from expertloop.services import redundancy as service

    with database(settings()) as db, refused():
        service.remove_redundancy(db, actor=None, project_id=project)
    _echo({"adaptive": False})


@group.command("workers")
def workers(project: Annotated[int, typer.Argument(help="Project id.")]) -> None:
    """Each worker's accuracy in the last fitted worker model, most accurate first."""
    from expertloop.services import redundancy as service

    with database(settings()) as db, refused():
        rows = service.worker_reliability(db, actor=None, project_id=project)
    for row in rows:
        _echo({"worker_id": row.worker_id, "username": row.username,
               "accuracy": round(row.accuracy, 4), "answers": row.answers})


def _targets(text: str) -> list[float]:
    """``--targets`` parsed: a comma list of targets, each at least 0.5 and below 1."""
    out = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            fail(f"--targets: {part.strip()!r} is not a number (give e.g. 0.99,0.999)")
        problem = policy_problem(1, 1, value)
        if problem is not None:
            fail(f"--targets: {part.strip()}: each target must be at least 0.5 and below 1")
        out.append(value)
    return out


def _pct(value: float | None, signed: bool = False) -> str:
    return "-" if value is None else f"{value:+.2f}" if signed else f"{100 * value:.1f}%"


@group.command("replay")
def replay(
    project: Annotated[int, typer.Argument(help="Project id.")],
    targets: Annotated[
        str, typer.Option(help="Candidate target confidences, a comma list.")
    ] = "0.99,0.995,0.999,0.9999",
    min_answers: MinAnswers = DEFAULT_POLICY.min_answers,
    max_answers: MaxAnswers = DEFAULT_POLICY.max_answers,
    seeds: Annotated[
        int, typer.Option(help="Orders of each item's answers to replay (seeds 0..N-1).")
    ] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """What adaptive redundancy would have done on the answers the project already has, at
    each target: answers used, labels changed against all answers, accuracy on gold.

    An item never uses more answers than it has: this is informative for a project that
    collected more answers per item than --min-answers (a pilot with a fixed
    answers_per_item, say). Items with fewer than 2 answers are left out of the label and
    gold comparisons."""
    from expertloop.services import redundancy_replay as service

    wanted = _targets(targets)
    if seeds < 1:
        fail("--seeds must be at least 1")
    with database(settings()) as db, refused():
        report = service.replay_project(
            db, actor=None, project_id=project, targets=wanted, min_answers=min_answers,
            max_answers=max_answers, seeds=seeds,
        )
    if as_json:
        _echo(report.as_dict())
        return
    gold = report.gold_accuracy_all is not None
    typer.echo(
        f"project {report.project_id}: replay of its recorded answers ({report.items} items, "
        f"{report.answers_available} answers; min {report.min_answers}, max "
        f"{report.max_answers}; {report.seeds} seed(s)). An item never uses more answers "
        f"than it has. Labels compared on the {report.compared} items with 2+ answers."
    )
    if gold:
        typer.echo(f"accuracy on {report.gold_items} gold items with all answers: "
                   f"{_pct(report.gold_accuracy_all)}")
    typer.echo(f"{'target':>8}  {'used/available':>16}  {'saving':>7}  {'changed':>7}"
               + (f"  {'gold delta (points)':>19}" if gold else ""))
    for row in report.targets:
        used = f"{row.answers_used:.1f}/{row.answers_available}"
        typer.echo(f"{row.target_confidence:>8g}  {used:>16}  {_pct(row.saving):>7}  "
                   f"{_pct(row.changed):>7}"
                   + (f"  {_pct(row.gold_delta_points, True):>19}" if gold else ""))


def register(app: typer.Typer) -> None:
    del app  # joins the existing ``project`` group
    project_group.add_typer(group, name="redundancy")
