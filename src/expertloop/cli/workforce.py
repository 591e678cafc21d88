"""``expertloop user skills|credentials`` and ``expertloop project workforce|exam-results|
gold``: the workforce from the command line (the operator acts; see docs/workforce.md).

Added to the ``user`` and ``project`` groups from here, so the workforce stays one module."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from expertloop.cli.common import database, fail, operator, refused, settings, user_id
from expertloop.cli.projects import group as project_group
from expertloop.cli.users import group as user_group

__all__ = ["register"]

skills_group = typer.Typer(help="A user's skills (name=level, 0 to 5).", no_args_is_help=True)
credentials_group = typer.Typer(
    help="A user's credentials (degrees, licences...) and their verification.",
    no_args_is_help=True,
)
workforce_group = typer.Typer(
    help="A project's required skills, qualification exam, gold share, routing, escalation.",
    no_args_is_help=True,
)


def _echo(value: Any) -> None:
    typer.echo(json.dumps(value, default=str))


def _pairs(values: list[str], option: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        name, sep, level = value.partition("=")
        if not sep or not level.strip().lstrip("-").isdigit():
            fail(f"{option}: expected NAME=LEVEL (e.g. medicine=3), got {value!r}")
        out[name.strip()] = int(level)
    return out


def _credential(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "kind": row.kind, "title": row.title, "evidence": row.evidence,
        "verified": row.verified_at is not None, "verified_by": row.verified_by,
        "verified_at": row.verified_at,
    }


@skills_group.command("set")
def skills_set(
    user: Annotated[str, typer.Argument(help="User id or username.")],
    skills: Annotated[list[str], typer.Argument(help="NAME=LEVEL pairs, e.g. medicine=3.")],
) -> None:
    """Replace a user's skills."""
    from expertloop.services.workforce import skills as service

    with database(settings()) as db, refused():
        done = service.set_skills(
            db, actor=None, user_id=user_id(db, user), skills=_pairs(skills, "SKILLS")
        )
    _echo(done)


@skills_group.command("show")
def skills_show(user: Annotated[str, typer.Argument(help="User id or username.")]) -> None:
    """A user's skills and credentials, as JSON."""
    from expertloop.services.workforce import skills as service

    with database(settings()) as db:
        profile = service.get_profile(db, actor=None, user_id=user_id(db, user))
    _echo({
        "id": profile.user.id, "username": profile.user.username, "skills": profile.skills,
        "credentials": [_credential(c) for c in profile.credentials],
    })


@credentials_group.command("add")
def credentials_add(
    user: Annotated[str, typer.Argument(help="User id or username.")],
    kind: Annotated[str, typer.Option(help="degree, licence, certification, membership, "
                                           "employment or other.")],
    title: Annotated[str, typer.Option(help='What it is, e.g. "MD, University of Lagos".')],
    evidence: Annotated[str, typer.Option(help="What was checked.")] = "",
    verified: Annotated[bool, typer.Option(help="Mark it verified now.")] = False,
) -> None:
    """Record a credential."""
    from expertloop.services.workforce import skills as service

    with database(settings()) as db, refused():
        row = service.add_credential(
            db, actor=None, user_id=user_id(db, user), kind=kind, title=title,
            evidence=evidence, verified=verified,
        )
    _echo(_credential(row))


@credentials_group.command("verify")
def credentials_verify(
    user: Annotated[str, typer.Argument(help="User id or username.")],
    credential_id: Annotated[int, typer.Argument(help="The credential's id.")],
) -> None:
    """Mark a credential verified."""
    from expertloop.services.workforce import skills as service

    with database(settings()) as db, refused():
        row = service.verify_credential(
            db, actor=None, user_id=user_id(db, user), credential_id=credential_id
        )
    _echo(_credential(row))


@credentials_group.command("list")
def credentials_list(user: Annotated[str, typer.Argument(help="User id or username.")]) -> None:
    """A user's credentials, one JSON object a line."""
    from expertloop.services.workforce import skills as service

    with database(settings()) as db:
        profile = service.get_profile(db, actor=None, user_id=user_id(db, user))
    for row in profile.credentials:
        _echo(_credential(row))


@credentials_group.command("remove")
def credentials_remove(
    user: Annotated[str, typer.Argument(help="User id or username.")],
    credential_id: Annotated[int, typer.Argument(help="The credential's id.")],
) -> None:
    """Remove a credential."""
    from expertloop.services.workforce import skills as service

    with database(settings()) as db, refused():
        service.delete_credential(
            db, actor=None, user_id=user_id(db, user), credential_id=credential_id
        )
    _echo({"removed": credential_id})


def _settings_json(s: Any) -> dict[str, Any]:
    q = s.qualification
    return {
        "project_id": s.project_id,
        "required_skills": s.required_skills,
        "qualification": None if q is None else {
            "exam_project_id": q.exam_project_id, "pass_mark": q.pass_mark,
            "retry_after_seconds": q.retry_after_seconds,
        },
        "gold_share": s.gold_share,
        "route_min_accuracy": s.route_min_accuracy,
        "escalate": s.escalate,
        "is_exam": s.is_exam,
    }


@workforce_group.command("show")
def workforce_show(project: Annotated[int, typer.Argument(help="Project id.")]) -> None:
    """The project's workforce settings, as JSON."""
    from expertloop.services.workforce import settings as service

    with database(settings()) as db, refused():
        found = service.get_settings(db, actor=None, project_id=project)
    _echo(_settings_json(found))


@workforce_group.command("set")
def workforce_set(
    project: Annotated[int, typer.Argument(help="Project id.")],
    require: Annotated[
        list[str] | None, typer.Option(help="A required skill, NAME=LEVEL (repeat the option).")
    ] = None,
    no_requirements: Annotated[bool, typer.Option(help="Require no skills.")] = False,
    exam: Annotated[int | None, typer.Option(help="The exam project's id.")] = None,
    pass_mark: Annotated[float, typer.Option(help="Score needed to pass (0-1).")] = 0.8,
    retry_after: Annotated[int, typer.Option(help="Seconds before a retry.")] = 86400,
    no_exam: Annotated[bool, typer.Option(help="Drop the qualification exam.")] = False,
    gold_share: Annotated[float | None, typer.Option(help="Share of gold items (0-1).")] = None,
    no_gold_share: Annotated[bool, typer.Option(help="Serve gold like any item.")] = False,
    route_min_accuracy: Annotated[
        float | None, typer.Option(help="Gold accuracy from which disputed items come first.")
    ] = None,
    escalate: Annotated[
        bool | None, typer.Option("--escalate/--no-escalate", help="Escalate ties to reviewers.")
    ] = None,
) -> None:
    """Change the settings given; the others stay."""
    from expertloop.services.workforce import settings as service

    changes: dict[str, Any] = {}
    if require:
        changes["required_skills"] = _pairs(require, "--require")
    if no_requirements:
        changes["required_skills"] = {}
    if exam is not None:
        changes["qualification"] = {
            "exam_project_id": exam, "pass_mark": pass_mark, "retry_after_seconds": retry_after
        }
    if no_exam:
        changes["qualification"] = None
    if gold_share is not None:
        changes["gold_share"] = gold_share
    if no_gold_share:
        changes["gold_share"] = None
    if route_min_accuracy is not None:
        changes["route_min_accuracy"] = route_min_accuracy
    if escalate is not None:
        changes["escalate"] = escalate
    with database(settings()) as db, refused():
        done = service.update_settings(db, actor=None, project_id=project, **changes)
    _echo(_settings_json(done))


def exam_results(project: Annotated[int, typer.Argument(help="Project id.")]) -> None:
    """Every worker's standing on the project's qualification exam, one JSON object a line."""
    from expertloop.services.workforce import exams

    with database(settings()) as db, refused():
        found = exams.exam_statuses(db, actor=None, project_id=project)
    for q in found:
        _echo({
            "worker_id": q.worker_id, "username": q.username, "status": q.status,
            "score": q.score, "best_score": q.best_score, "attempts": q.attempts,
            "retry_at": q.retry_at, "qualified": q.qualified,
        })


def gold(
    project: Annotated[int, typer.Argument(help="Project id.")],
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this manager.")] = None,
) -> None:
    """Gold accuracy of the project's workers with 95% credible intervals, one a line."""
    from expertloop.services.workforce import gold as service

    with database(settings()) as db, refused():
        found = service.gold_accuracy(db, actor=operator(db, as_user), project_id=project)
    for g in found:
        _echo({
            "worker_id": g.worker_id, "username": g.username, "gold_answers": g.gold_answers,
            "gold_correct": g.gold_correct, "posterior_mean": g.posterior_mean,
            "lower": g.lower, "upper": g.upper,
        })


def register(app: typer.Typer) -> None:
    del app  # the commands join the existing ``user`` and ``project`` groups
    user_group.add_typer(skills_group, name="skills")
    user_group.add_typer(credentials_group, name="credentials")
    project_group.add_typer(workforce_group, name="workforce")
    project_group.command("exam-results")(exam_results)
    project_group.command("gold")(gold)
