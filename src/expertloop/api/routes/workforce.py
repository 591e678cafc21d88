"""The workforce: skills and credentials of users, a project's requirements (skills, a
qualification exam), gold mixed into operations, routing and escalation, exam results and
gold accuracy. See ``docs/workforce.md``."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from expertloop.api.deps import CurrentUser, DatabaseDep, RuntimeDep
from expertloop.api.openapi import error_responses
from expertloop.api.schemas import SmallId
from expertloop.api.workforce_schemas import (
    CredentialIn,
    CredentialPublic,
    GoldAccuracyPublic,
    QualificationPublic,
    SkillsPut,
    UserProfile,
    WorkforcePatch,
    WorkforcePublic,
)
from expertloop.services.workforce import exams, gold, settings, skills

router = APIRouter(tags=["workforce"])

_NO_CONTENT = status.HTTP_204_NO_CONTENT


@router.get(
    "/users/{user_id}",
    summary="A user with their skills and credentials (managers; a user: their own)",
    responses=error_responses(404),
)
def get_user(user_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> UserProfile:
    return UserProfile.of_profile(skills.get_profile(db, actor=actor, user_id=user_id))


@router.put(
    "/users/{user_id}/skills",
    summary="Replace a user's skills (managers)",
    responses=error_responses(404, 422),
)
def put_skills(
    user_id: SmallId, body: SkillsPut, db: DatabaseDep, actor: CurrentUser
) -> UserProfile:
    skills.set_skills(db, actor=actor, user_id=user_id, skills=body.skills)
    return UserProfile.of_profile(skills.get_profile(db, actor=actor, user_id=user_id))


@router.post(
    "/users/{user_id}/credentials",
    status_code=status.HTTP_201_CREATED,
    summary="Record a credential (managers)",
    responses=error_responses(404, 422),
)
def add_credential(
    user_id: SmallId, body: CredentialIn, db: DatabaseDep, actor: CurrentUser
) -> CredentialPublic:
    row = skills.add_credential(
        db, actor=actor, user_id=user_id, kind=body.kind, title=body.title,
        evidence=body.evidence, verified=body.verified,
    )
    return CredentialPublic.of(row)


@router.post(
    "/users/{user_id}/credentials/{credential_id}/verify",
    summary="Mark a credential verified by the caller (managers)",
    responses=error_responses(404),
)
def verify_credential(
    user_id: SmallId, credential_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> CredentialPublic:
    row = skills.verify_credential(db, actor=actor, user_id=user_id, credential_id=credential_id)
    return CredentialPublic.of(row)


@router.delete(
    "/users/{user_id}/credentials/{credential_id}",
    status_code=_NO_CONTENT,
    summary="Remove a credential (managers)",
    responses=error_responses(404),
)
def delete_credential(
    user_id: SmallId, credential_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> Response:
    skills.delete_credential(db, actor=actor, user_id=user_id, credential_id=credential_id)
    return Response(status_code=_NO_CONTENT)


@router.get(
    "/projects/{project_id}/workforce",
    summary="A project's workforce settings (members)",
    responses=error_responses(404),
)
def get_workforce(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> WorkforcePublic:
    return WorkforcePublic.of(settings.get_settings(db, actor=actor, project_id=project_id))


@router.patch(
    "/projects/{project_id}/workforce",
    summary="Change a project's required skills, exam, gold share, routing (managers)",
    responses=error_responses(404, 422),
)
def patch_workforce(
    project_id: SmallId,
    body: WorkforcePatch,
    db: DatabaseDep,
    runtime: RuntimeDep,
    actor: CurrentUser,
) -> WorkforcePublic:
    changed = settings.update_settings(
        db, actor=actor, project_id=project_id, claimable=runtime.claimable, **body.changes()
    )
    return WorkforcePublic.of(changed)


@router.get(
    "/projects/{project_id}/qualification",
    summary="The caller's standing on the project's qualification exam",
    responses=error_responses(404),
)
def my_qualification(
    project_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> QualificationPublic:
    return QualificationPublic.of(
        exams.qualification_status(db, actor=actor, project_id=project_id)
    )


@router.get(
    "/projects/{project_id}/qualification/results",
    summary="Every worker's standing on the project's qualification exam (managers)",
    responses=error_responses(404),
)
def qualification_results(
    project_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> list[QualificationPublic]:
    return [
        QualificationPublic.of(q)
        for q in exams.exam_statuses(db, actor=actor, project_id=project_id)
    ]


@router.get(
    "/projects/{project_id}/gold",
    summary="Gold accuracy of the project's workers, with credible intervals (managers)",
    responses=error_responses(404),
)
def gold_accuracy(
    project_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> list[GoldAccuracyPublic]:
    return [
        GoldAccuracyPublic.of(g)
        for g in gold.gold_accuracy(db, actor=actor, project_id=project_id)
    ]


@router.get(
    "/projects/{project_id}/gold/me",
    summary="The caller's own gold accuracy in the project",
    responses=error_responses(404),
)
def my_gold_accuracy(
    project_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> GoldAccuracyPublic:
    found = gold.gold_accuracy(db, actor=actor, project_id=project_id, worker_id=actor.id)
    return GoldAccuracyPublic.of(found[0])


@router.get(
    "/projects/{project_id}/workers/{worker_id}/gold",
    summary="One worker's gold accuracy in the project (managers)",
    responses=error_responses(404),
)
def worker_gold_accuracy(
    project_id: SmallId, worker_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> GoldAccuracyPublic:
    found = gold.gold_accuracy(db, actor=actor, project_id=project_id, worker_id=worker_id)
    return GoldAccuracyPublic.of(found[0])
