"""``expertloop constitution propose|proposals|decide|statements|vote|groups|stats``: the
experts' proposals and the reviewers' decisions, the panel's votes and opinion groups, and the
per-principle statistics of a grading project (added to the ``constitution`` group)."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import typer
from rich.table import Table

from expertloop.cli.constitutions import AS, JSON, echo_json, out, run, utc
from expertloop.domain import User
from expertloop.domain.constitutions import Principle, Proposal, ProposalKind, ProposalStatus, Vote
from expertloop.services.database import Database

__all__ = ["register", "statements_group"]

statements_group = typer.Typer(help="Candidate statements put to the panel.",
                               no_args_is_help=True)


class Decision(enum.StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"


def _proposal_json(p: Proposal) -> dict[str, Any]:
    return {
        "id": p.id, "constitution_id": p.constitution_id, "kind": p.kind.value,
        "principle_key": p.principle_key,
        "principle": None if p.principle is None else p.principle.to_dict(),
        "reason": p.reason, "status": p.status.value, "proposed_by": p.proposed_by,
        "created_at": utc(p.created_at), "decided_by": p.decided_by,
        "decided_at": utc(p.decided_at), "decision_note": p.decision_note,
    }


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def propose(
    constitution: Annotated[int, typer.Argument(help="Constitution id.")],
    kind: Annotated[ProposalKind, typer.Argument(help="add, amend or remove.")],
    key: Annotated[str, typer.Argument(help="The principle's id.")],
    reason: Annotated[str, typer.Option(help="Why the change is needed.")],
    title: Annotated[str | None, typer.Option(help="add, amend: the title.")] = None,
    text: Annotated[str | None, typer.Option(help="add, amend: the principle's text.")] = None,
    rationale: Annotated[str, typer.Option(help="add, amend: why it is there.")] = "",
    complies: Annotated[list[str] | None, typer.Option(
        help="add, amend: a response that follows it (repeat for more).")] = None,
    violates: Annotated[list[str] | None, typer.Option(
        help="add, amend: a response that breaks it (repeat for more).")] = None,
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """Propose to add, amend (give it whole) or remove a principle, with a reason."""
    from expertloop.services import constitutions

    if kind is ProposalKind.REMOVE:
        if title is not None or text is not None:
            raise typer.BadParameter("a removal takes no --title nor --text")
    elif title is None or text is None:
        raise typer.BadParameter(f"an {kind.value} proposal needs --title and --text")

    def make(db: Database, actor: User) -> Proposal:
        principle: Principle | None = None
        if kind is not ProposalKind.REMOVE:
            principle = constitutions.principle_from_input(
                key=key, title=title or "", text=text or "", rationale=rationale,
                compliance_examples=complies or (), violation_examples=violates or ())
        return constitutions.propose(
            db, actor=actor, constitution_id=constitution, kind=kind, reason=reason,
            principle=principle,
            principle_key=key if kind is ProposalKind.REMOVE else None)

    echo_json(_proposal_json(run(as_user, make)))


def proposals(
    constitution: Annotated[int, typer.Argument(help="Constitution id.")],
    status: Annotated[ProposalStatus | None, typer.Option(
        help="Only these: open, accepted or rejected.")] = None,
    as_json: Annotated[bool, JSON] = False,
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """The proposals, in id order."""
    from expertloop.services import constitutions

    found = run(as_user, lambda db, actor: constitutions.list_proposals(
        db, actor=actor, constitution_id=constitution, status=status))
    if as_json:
        echo_json([_proposal_json(p) for p in found])
        return
    table = Table(title=f"Proposals for constitution {constitution}", show_lines=True)
    for column in ("Id", "Kind", "Principle", "Status", "Reason", "Decision note"):
        table.add_column(column)
    for p in found:
        table.add_row(str(p.id), p.kind.value, p.principle_key, p.status.value, p.reason,
                      p.decision_note)
    out().print(table)


def decide(
    proposal: Annotated[int, typer.Argument(help="Proposal id.")],
    decision: Annotated[Decision, typer.Argument(help="accept or reject.")],
    note: Annotated[str, typer.Option(help="Why, for the proposer.")] = "",
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """Accept (the draft changes now) or reject an open proposal (reviewers, managers)."""
    from expertloop.services import constitutions

    decided = run(as_user, lambda db, actor: constitutions.decide_proposal(
        db, actor=actor, proposal_id=proposal, accept=decision is Decision.ACCEPT, note=note))
    echo_json(_proposal_json(decided))


@statements_group.command("add")
def statements_add(
    constitution: Annotated[int, typer.Argument(help="Constitution id.")],
    text: Annotated[str, typer.Argument(help="The candidate statement.")],
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """Put a candidate statement to the panel (managers)."""
    from expertloop.services import constitution_votes

    made = run(as_user, lambda db, actor: constitution_votes.add_statement(
        db, actor=actor, constitution_id=constitution, text=text))
    echo_json({"id": made.id, "constitution_id": made.constitution_id, "text": made.text,
               "created_at": utc(made.created_at)})


@statements_group.command("list")
def statements_list(
    constitution: Annotated[int, typer.Argument(help="Constitution id.")],
    as_json: Annotated[bool, JSON] = False,
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """The candidate statements with their vote counts (and the acting account's vote)."""
    from expertloop.services import constitution_votes

    def load(db: Database, actor: User) -> tuple[Any, dict[int, Vote]]:
        return (
            constitution_votes.list_statements(db, actor=actor, constitution_id=constitution),
            constitution_votes.my_votes(db, actor=actor, constitution_id=constitution),
        )

    found, mine = run(as_user, load)
    rows = [{"id": s.id, "text": s.text, "agree": s.agree, "disagree": s.disagree,
             "passes": s.passes, "my_vote": None if s.id not in mine else mine[s.id].value}
            for s in found]
    if as_json:
        echo_json(rows)
        return
    table = Table(title=f"Statements of constitution {constitution}")
    for column in ("Id", "Statement", "Agree", "Disagree", "Pass", "My vote"):
        table.add_column(column)
    for r in rows:
        table.add_row(str(r["id"]), str(r["text"]), str(r["agree"]), str(r["disagree"]),
                      str(r["passes"]), str(r["my_vote"] or "-"))
    out().print(table)


def vote(
    statement: Annotated[int, typer.Argument(help="Statement id.")],
    choice: Annotated[Vote, typer.Argument(help="agree, disagree or pass.")],
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """Vote on a statement (--as the voter); a new vote replaces the old one."""
    from expertloop.services import constitution_votes

    run(as_user, lambda db, actor: constitution_votes.vote(
        db, actor=actor, statement_id=statement, choice=choice))
    echo_json({"statement_id": statement, "vote": choice.value})


def groups(
    constitution: Annotated[int, typer.Argument(help="Constitution id.")],
    as_json: Annotated[bool, JSON] = False,
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """The panel's opinion groups and each statement's support (managers)."""
    from expertloop.services import constitution_votes

    found = run(as_user, lambda db, actor: constitution_votes.analyse_votes(
        db, actor=actor, constitution_id=constitution))
    statements: list[dict[str, Any]] = [{
        "statement_id": s.statement.id, "text": s.statement.text, "votes": s.votes,
        "support": s.support, "group_support": list(s.group_support),
        "group_informed_consensus": s.group_informed_consensus, "consensus": s.consensus,
        "contested": s.contested} for s in found.statements]
    summary = {"voters": found.voters, "ungrouped": found.ungrouped,
               "silhouette": found.silhouette,
               "groups": [{"group": g.group, "size": g.size} for g in found.groups]}
    if as_json:
        echo_json({**summary, "statements": statements})
        return
    console = out()
    sizes = ", ".join(f"group {g.group}: {g.size}" for g in found.groups) or "none"
    console.print(f"{found.voters} voters ({found.ungrouped} ungrouped); groups: {sizes}; "
                  f"silhouette {_number(found.silhouette)}")
    table = Table(title="Support (agree rate with a Laplace prior)")
    for column in ("Id", "Statement", "Votes", "Support",
                   *(f"Group {g.group}" for g in found.groups), "Flag"):
        table.add_column(column)
    for s in statements:
        flag = "consensus" if s["consensus"] else "contested" if s["contested"] else ""
        table.add_row(str(s["statement_id"]), str(s["text"]), str(s["votes"]),
                      _rate(s["support"]), *(_rate(v) for v in s["group_support"]), flag)
    console.print(table)


def stats(
    project: Annotated[int, typer.Argument(help="A grading project's id.")],
    as_json: Annotated[bool, JSON] = False,
    as_user: Annotated[str | None, AS] = None,
) -> None:
    """Per principle of a grading project: agreement, not-applicable rate, coverage."""
    from expertloop.services import constitution_grading

    found = run(as_user, lambda db, actor: constitution_grading.principle_stats(
        db, actor=actor, project_id=project))
    rows: list[dict[str, Any]] = [{"key": s.key, "judgments": s.judgments, "alpha": s.alpha,
             "alpha_low": s.alpha_low, "alpha_high": s.alpha_high,
             "not_applicable_rate": s.not_applicable_rate, "coverage": s.coverage,
             "unclear": s.unclear} for s in found]
    unclear = [s.key for s in found if s.unclear]
    if as_json:
        echo_json({"project": project, "principles": rows, "unclear": unclear})
        return
    table = Table(title=f"Principles graded in project {project}")
    for column in ("Principle", "Judgments", "Alpha", "95% interval", "Not applicable",
                   "Coverage", "Unclear"):
        table.add_column(column)
    for r in rows:
        interval = ("-" if r["alpha_low"] is None
                    else f"{r['alpha_low']:.2f} to {r['alpha_high']:.2f}")
        table.add_row(str(r["key"]), str(r["judgments"]), _number(r["alpha"]), interval,
                      _rate(r["not_applicable_rate"]), str(r["coverage"]),
                      "yes" if r["unclear"] else "")
    console = out()
    console.print(table)
    console.print("Unclear (alpha below 0.667, amend them): " + (", ".join(unclear) or "none"))


def register(group: typer.Typer) -> None:
    group.command("propose")(propose)
    group.command("proposals")(proposals)
    group.command("decide")(decide)
    group.add_typer(statements_group, name="statements")
    group.command("vote")(vote)
    group.command("groups")(groups)
    group.command("stats")(stats)
