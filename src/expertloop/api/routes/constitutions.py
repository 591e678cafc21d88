"""Constitutions: principles, drafts, published versions with diffs, proposals, exports."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Query, Response, status

from expertloop.api.constitution_schemas import (
    ConstitutionIn,
    ConstitutionPublic,
    DecisionIn,
    PrincipleChangePublic,
    PrincipleIn,
    PrincipleItemsIn,
    PrincipleOut,
    ProposalIn,
    ProposalPublic,
    PublishIn,
    VersionPublic,
)
from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.openapi import error_responses
from expertloop.api.schemas import Id, SmallId
from expertloop.domain.constitutions import ProposalStatus
from expertloop.errors import InputInvalid
from expertloop.services import constitution_docs, constitution_tasks, constitutions

router = APIRouter(tags=["constitutions"])

_PREFIX = "/constitutions/{constitution_id}"
PrincipleKey = Annotated[str, Path(min_length=1, max_length=64)]


@router.post("/constitutions", status_code=status.HTTP_201_CREATED,
             summary="Create a constitution (managers)", responses=error_responses(409))
def create_constitution(
    body: ConstitutionIn, db: DatabaseDep, actor: CurrentUser
) -> ConstitutionPublic:
    created = constitutions.create_constitution(
        db, actor=actor, name=body.name, description=body.description
    )
    return ConstitutionPublic.of(created)


@router.get("/constitutions", summary="Every constitution")
def list_constitutions(db: DatabaseDep, actor: CurrentUser) -> list[ConstitutionPublic]:
    return [ConstitutionPublic.of(c) for c in constitutions.list_constitutions(db, actor=actor)]


@router.get(_PREFIX, summary="One constitution")
def get_constitution(
    constitution_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> ConstitutionPublic:
    found = constitutions.get_constitution(db, actor=actor, constitution_id=constitution_id)
    return ConstitutionPublic.of(found)


@router.get(_PREFIX + "/draft", summary="The draft's principles, in order")
def get_draft(constitution_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> list[PrincipleOut]:
    found = constitutions.draft(db, actor=actor, constitution_id=constitution_id)
    return [PrincipleOut.of(p) for p in found]


@router.put(_PREFIX + "/draft/principles/{key}",
            summary="Add a principle to the draft, or replace it (managers)")
def put_principle(
    constitution_id: SmallId,
    key: PrincipleKey,
    body: PrincipleIn,
    db: DatabaseDep,
    actor: CurrentUser,
    response: Response,
) -> PrincipleOut:
    if body.key != key:
        raise InputInvalid.on_field("key", "the body's key differs from the path's")
    principle = constitutions.principle_from_input(**body.model_dump())
    new = constitutions.put_principle(
        db, actor=actor, constitution_id=constitution_id, principle=principle
    )
    response.status_code = status.HTTP_201_CREATED if new else status.HTTP_200_OK
    return PrincipleOut.of(principle)


@router.delete(_PREFIX + "/draft/principles/{key}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Take a principle out of the draft (managers)")
def remove_principle(
    constitution_id: SmallId, key: PrincipleKey, db: DatabaseDep, actor: CurrentUser
) -> Response:
    constitutions.remove_principle(db, actor=actor, constitution_id=constitution_id, key=key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(_PREFIX + "/versions", status_code=status.HTTP_201_CREATED,
             summary="Publish the draft as the next version (managers)")
def publish(
    constitution_id: SmallId, body: PublishIn, db: DatabaseDep, actor: CurrentUser
) -> VersionPublic:
    published = constitutions.publish(
        db, actor=actor, constitution_id=constitution_id, note=body.note
    )
    return VersionPublic.of(published)


@router.get(_PREFIX + "/versions", summary="Every published version")
def list_versions(
    constitution_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> list[VersionPublic]:
    found = constitutions.list_versions(db, actor=actor, constitution_id=constitution_id)
    return [VersionPublic.of(v) for v in found]


@router.get(_PREFIX + "/versions/{version}", summary="One published version")
def get_version(
    constitution_id: SmallId, version: SmallId, db: DatabaseDep, actor: CurrentUser
) -> VersionPublic:
    found = constitutions.get_version(
        db, actor=actor, constitution_id=constitution_id, version=version
    )
    return VersionPublic.of(found)


@router.get(_PREFIX + "/versions/{version}/export",
            summary="A published version as Markdown or JSON",
            responses={200: {"content": {"text/markdown": {}, "application/json": {}}}})
def export_version(
    constitution_id: SmallId,
    version: SmallId,
    db: DatabaseDep,
    actor: CurrentUser,
    format: Annotated[str, Query(pattern="^(markdown|json)$")] = "markdown",
) -> Response:
    name = f"constitution-{constitution_id}-v{version}"
    if format == "json":
        data = constitution_docs.constitution_json(
            db, actor=actor, constitution_id=constitution_id, version=version
        )
        return Response(
            orjson.dumps(data, option=orjson.OPT_INDENT_2), media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
        )
    text = constitution_docs.constitution_markdown(
        db, actor=actor, constitution_id=constitution_id, version=version
    )
    return Response(
        text, media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.md"'},
    )


@router.get(_PREFIX + "/diff", summary="What changed between two versions (omit one: the draft)")
def diff(
    constitution_id: SmallId,
    db: DatabaseDep,
    actor: CurrentUser,
    from_version: Annotated[int | None, Query(alias="from", ge=0, le=2**31 - 1)] = None,
    to_version: Annotated[int | None, Query(alias="to", ge=0, le=2**31 - 1)] = None,
) -> list[PrincipleChangePublic]:
    changes = constitution_docs.diff(
        db, actor=actor, constitution_id=constitution_id, from_version=from_version,
        to_version=to_version,
    )
    return [PrincipleChangePublic.of(c) for c in changes]


@router.post(_PREFIX + "/proposals", status_code=status.HTTP_201_CREATED,
             summary="Propose a new principle, an amendment or a removal, with a reason",
             responses=error_responses(409))
def propose(
    constitution_id: SmallId, body: ProposalIn, db: DatabaseDep, actor: CurrentUser
) -> ProposalPublic:
    principle = (
        None if body.principle is None
        else constitutions.principle_from_input(**body.principle.model_dump())
    )
    made = constitutions.propose(
        db, actor=actor, constitution_id=constitution_id, kind=body.kind, reason=body.reason,
        principle=principle, principle_key=body.principle_key,
    )
    return ProposalPublic.of(made)


@router.get(_PREFIX + "/proposals", summary="Proposals, in id order")
def list_proposals(
    constitution_id: SmallId,
    db: DatabaseDep,
    actor: CurrentUser,
    proposal_status: Annotated[ProposalStatus | None, Query(alias="status")] = None,
) -> list[ProposalPublic]:
    found = constitutions.list_proposals(
        db, actor=actor, constitution_id=constitution_id, status=proposal_status
    )
    return [ProposalPublic.of(p) for p in found]


@router.post("/constitution-proposals/{proposal_id}/decision",
             summary="Accept (the draft changes) or reject a proposal (reviewers, managers)",
             responses=error_responses(409))
def decide_proposal(
    proposal_id: Id, body: DecisionIn, db: DatabaseDep, actor: CurrentUser
) -> ProposalPublic:
    decided = constitutions.decide_proposal(
        db, actor=actor, proposal_id=proposal_id, accept=body.accept, note=body.note
    )
    return ProposalPublic.of(decided)


@router.post(_PREFIX + "/versions/{version}/critique-items", status_code=status.HTTP_201_CREATED,
             summary="Add items to a project, each paired with the version's next principle "
             "(managers)")
def principle_items(
    constitution_id: SmallId, version: SmallId, body: PrincipleItemsIn, db: DatabaseDep,
    actor: CurrentUser,
) -> dict[str, int]:
    added = constitution_tasks.principle_items(
        db, actor=actor, constitution_id=constitution_id, version=version,
        project_id=body.project_id, records=body.items,
    )
    return {"added": added}
