"""Pay: a project's rates and budget, manual adjustments, a worker's earnings and
statements, and the reconciliation of the ledger (see ``docs/pay.md``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from expertloop.api.deps import CurrentUser, DatabaseDep, SettingsDep
from expertloop.api.openapi import error_responses
from expertloop.api.schemas import MAX_ID, SmallId, UtcDatetime
from expertloop.domain import Role
from expertloop.errors import PermissionDenied
from expertloop.services import pay, pay_bonuses, pay_budget, pay_effective, pay_ledger
from expertloop.store.pay import RateRow

router = APIRouter(tags=["pay"])

# A statement's lines per page unless ``limit`` says otherwise.
STATEMENT_PAGE = 1000


def _naive(when: datetime | None) -> datetime | None:
    """Times are stored as naive UTC; a time given with an offset is converted."""
    if when is None or when.tzinfo is None:
        return when
    return when.astimezone(UTC).replace(tzinfo=None)

_AMOUNT = Field(ge=0, le=pay.MAX_AMOUNT_MINOR, description="Minor units (cents)")
_AMOUNT_OR_NONE = Field(None, ge=0, le=pay.MAX_AMOUNT_MINOR, description="Minor units")
_CURRENCY = Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. USD")


class PremiumBody(BaseModel):
    """``skill`` with ``min_level``, or ``credential`` (a kind); ``basis_points`` (2000 is
    +20 %) or ``amount_minor`` per answer."""

    model_config = ConfigDict(extra="forbid")

    skill: str | None = Field(None, max_length=64)
    min_level: int | None = Field(None, ge=1, le=5)
    credential: str | None = Field(None, max_length=32)
    basis_points: int | None = Field(None, ge=0, le=100_000)
    amount_minor: int | None = _AMOUNT_OR_NONE


class RateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["piece", "hourly"]
    amount_minor: int = _AMOUNT
    currency: str = _CURRENCY
    max_seconds_per_item: int | None = Field(
        None, ge=1, le=604800, description="Hourly: time on task counted per answer at most"
    )
    effective_from: UtcDatetime | None = Field(None, description="Default now; never past")
    review_window_seconds: int | None = Field(
        None, ge=1, le=pay.MAX_REVIEW_WINDOW_SECONDS,
        description="Pending pay no review rejected within this long is approved",
    )
    premiums: list[PremiumBody] = Field(
        default_factory=list, max_length=20,
        description="More pay for a skill at a level or more, or a verified credential kind",
    )


class RatePublic(BaseModel):
    id: int
    project_id: int
    kind: str
    amount_minor: int
    currency: str
    max_seconds_per_item: int | None
    effective_from: UtcDatetime
    created_at: UtcDatetime
    review_window_seconds: int | None
    premiums: list[dict[str, Any]]

    @classmethod
    def of(cls, rate: RateRow) -> RatePublic:
        return cls(id=rate.id, project_id=rate.project_id, kind=rate.kind,
                   amount_minor=rate.amount_minor, currency=rate.currency,
                   max_seconds_per_item=rate.max_seconds_per_item,
                   effective_from=rate.effective_from, created_at=rate.created_at,
                   review_window_seconds=rate.review_window_seconds,
                   premiums=[p.to_dict() for p in rate.premiums])


class BudgetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: int = _AMOUNT
    currency: str = _CURRENCY


class AdjustmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: SmallId
    amount_minor: int = Field(ge=-pay.MAX_AMOUNT_MINOR, le=pay.MAX_AMOUNT_MINOR)
    currency: str = _CURRENCY
    reason: str = Field(min_length=1, max_length=pay_ledger.MAX_REASON_CHARS)


class AdjustmentPublic(BaseModel):
    transaction_id: int


@router.get("/projects/{project_id}/pay/rates", summary="The project's rates, oldest first "
            "(manager)", responses=error_responses(404))
def list_rates(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> list[RatePublic]:
    return [RatePublic.of(r) for r in pay.list_rates(db, actor=actor, project_id=project_id)]


@router.post("/projects/{project_id}/pay/rates", status_code=201,
             summary="Give the project a new rate, from now or later (manager)",
             responses=error_responses(404, 422))
def add_rate(
    project_id: SmallId, body: RateCreate, db: DatabaseDep, actor: CurrentUser
) -> RatePublic:
    return RatePublic.of(pay.set_rate(
        db, actor=actor, project_id=project_id, kind=body.kind, amount_minor=body.amount_minor,
        currency=body.currency, max_seconds_per_item=body.max_seconds_per_item,
        effective_from=_naive(body.effective_from),
        review_window_seconds=body.review_window_seconds,
        premiums=[p.model_dump(exclude_none=True) for p in body.premiums],
    ))


@router.get("/projects/{project_id}/pay/budget",
            summary="The project's budget: spent, committed to live leases, and whether "
            "leasing stopped (manager); null without a budget", responses=error_responses(404))
def get_budget(project_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> dict[str, Any] | None:
    status = pay_budget.budget_status(db, actor=actor, project_id=project_id)
    return None if status is None else status.to_dict()


@router.put("/projects/{project_id}/pay/budget",
            summary="Set or raise the project's budget; leasing stops or resumes at once "
            "(manager)", responses=error_responses(404, 422))
def put_budget(
    project_id: SmallId, body: BudgetBody, db: DatabaseDep, actor: CurrentUser
) -> dict[str, Any]:
    return pay_budget.set_budget(db, actor=actor, project_id=project_id,
                                 amount_minor=body.amount_minor, currency=body.currency).to_dict()


@router.post("/projects/{project_id}/pay/adjustments", status_code=201,
             summary="A manual adjustment of a worker's approved pay, with a reason (manager)",
             responses=error_responses(404, 422))
def add_adjustment(
    project_id: SmallId, body: AdjustmentBody, db: DatabaseDep, actor: CurrentUser
) -> AdjustmentPublic:
    return AdjustmentPublic(transaction_id=pay_ledger.adjust(
        db, actor=actor, project_id=project_id, worker_id=body.worker_id,
        amount_minor=body.amount_minor, currency=body.currency, reason=body.reason,
    ))


class BonusRuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Literal["review_acceptance", "gold_accuracy", "consensus_agreement"]
    period: Literal["week", "month"]
    threshold_bp: int = Field(ge=0, le=10_000, description="Share to reach, 8000 = 80 %")
    min_count: int = Field(ge=1, le=pay_bonuses.MAX_MIN_COUNT,
                           description="Observations needed in the period")
    amount_minor: int = _AMOUNT
    currency: str = _CURRENCY


@router.get("/projects/{project_id}/pay/bonus-rules", summary="The project's bonus rules "
            "(manager)", responses=error_responses(403, 404))
def list_bonus_rules(
    project_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> list[dict[str, Any]]:
    return [r.to_dict() for r in pay_bonuses.list_rules(db, actor=actor, project_id=project_id)]


@router.post("/projects/{project_id}/pay/bonus-rules", status_code=201,
             summary="Add a bonus rule paid per period by the pay.bonus job (manager)",
             responses=error_responses(403, 404, 422))
def add_bonus_rule(
    project_id: SmallId, body: BonusRuleBody, db: DatabaseDep, actor: CurrentUser
) -> dict[str, Any]:
    return pay_bonuses.add_rule(db, actor=actor, project_id=project_id,
                                **body.model_dump()).to_dict()


@router.delete("/projects/{project_id}/pay/bonus-rules/{rule_id}", status_code=204,
               summary="Disable a bonus rule: periods ending later are not paid (manager)",
               responses=error_responses(403, 404))
def disable_bonus_rule(
    project_id: SmallId, rule_id: SmallId, db: DatabaseDep, actor: CurrentUser
) -> None:
    pay_bonuses.disable_rule(db, actor=actor, project_id=project_id, rule_id=rule_id)


@router.get("/users/{user_id}/pay/earnings",
            summary="A worker's pending, approved and paid money per currency (the worker, "
            "or an admin)", responses=error_responses(403))
def get_earnings(user_id: SmallId, db: DatabaseDep, actor: CurrentUser) -> list[dict[str, Any]]:
    return [e.to_dict() for e in pay_ledger.earnings(db, actor=actor, worker_id=user_id)]


@router.get("/users/{user_id}/pay/statement",
            summary="A worker's statement for a period: balances at both ends and its "
            "movements a page at a time, oldest first (the worker, or an admin)",
            responses=error_responses(403, 422))
def get_statement(
    user_id: SmallId,
    db: DatabaseDep,
    actor: CurrentUser,
    since: UtcDatetime | None = None,
    until: UtcDatetime | None = None,
    after: Annotated[int | None, Query(
        ge=1, le=MAX_ID, description="The previous page's next_after (the transaction_id of "
        "its last line)")] = None,
    limit: Annotated[int, Query(ge=1, le=pay_ledger.MAX_STATEMENT_PAGE)] = STATEMENT_PAGE,
) -> dict[str, Any]:
    return pay_ledger.statement(
        db, actor=actor, worker_id=user_id, since=_naive(since), until=_naive(until),
        limit=limit, after=after,
    ).to_dict()


@router.get("/pay/reconciliation",
            summary="Recompute every account from answers, reviews, rates and adjustments and "
            "compare with the ledger (admin)", responses=error_responses(403))
def get_reconciliation(db: DatabaseDep, actor: CurrentUser) -> dict[str, Any]:
    if actor.role is not Role.ADMIN:
        raise PermissionDenied("only an admin can reconcile the ledger")
    return pay_ledger.reconcile(db).to_dict()


@router.get("/projects/{project_id}/pay/effective-rates",
            summary="Each worker's effective hourly rate (pay over time on task) against the "
            "deployment's minimum, with a warning when the project pays below it (manager)",
            responses=error_responses(404))
def get_effective_rates(
    project_id: SmallId, db: DatabaseDep, actor: CurrentUser, settings: SettingsDep
) -> dict[str, Any]:
    minimum = pay_effective.parse_minimum(settings.pay_minimum_hourly)
    return pay_effective.effective_rates(
        db, actor=actor, project_id=project_id, minimum=minimum).to_dict()
