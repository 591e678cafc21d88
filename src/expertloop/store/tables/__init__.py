"""The database schema: every table, constraint and index of expertloop.

Invariants live here as constraints, not only in code: one answer per (item, worker), one
assignment per (item, worker), unique idempotency keys per worker, non-negative counters,
enum checks. Times are naive UTC.

One module per feature; this package re-exports every table."""

from __future__ import annotations

from expertloop.store.tables._base import NAMING, Base, BigId, Json, NullableJson, sql_values
from expertloop.store.tables.accounts import ApiToken, AuditEvent, LoginFailure, User
from expertloop.store.tables.consensus import ConsensusItem, ConsensusSnapshot, ConsensusWorker
from expertloop.store.tables.constitutions import (
    Constitution,
    ConstitutionPrinciple,
    ConstitutionProposal,
    ConstitutionStatement,
    ConstitutionVersion,
    StatementVote,
)
from expertloop.store.tables.jobs import Job
from expertloop.store.tables.llm import LlmCall, LlmProjectSettings, LlmProvider, LlmVerdict
from expertloop.store.tables.pay import (
    PayBonusMeasure,
    PayBonusRule,
    PayBudget,
    PayBudgetBlock,
    PayCursor,
    PayoutAccount,
    PayPosting,
    PayRate,
    PayRatePremium,
    PayTransaction,
)
from expertloop.store.tables.projects import (
    Project,
    ProjectCounters,
    ProjectGuidelines,
    ProjectMember,
    ProjectRules,
)
from expertloop.store.tables.redteam import RedteamCampaign, RedteamTurn
from expertloop.store.tables.redundancy import ProjectRedundancy, RedundancyModel, WorkerReliability
from expertloop.store.tables.work import (
    Answer,
    AnswerHour,
    AnswerRollupMark,
    AnswerTelemetry,
    Assignment,
    Item,
    ItemImport,
    ItemReport,
    ItemSearch,
    Review,
    Suggestion,
)
from expertloop.store.tables.workforce import (
    MAX_SKILL_LEVEL,
    SKILL_NAME,
    ExamResult,
    ItemVote,
    ProjectSkill,
    ProjectWorkforce,
    UserCredential,
    UserSkill,
    WorkerFlag,
    WorkerStats,
)

__all__ = [
    "MAX_SKILL_LEVEL",
    "NAMING",
    "SKILL_NAME",
    "Answer",
    "AnswerHour",
    "AnswerRollupMark",
    "AnswerTelemetry",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "Base",
    "BigId",
    "ConsensusItem",
    "ConsensusSnapshot",
    "ConsensusWorker",
    "Constitution",
    "ConstitutionPrinciple",
    "ConstitutionProposal",
    "ConstitutionStatement",
    "ConstitutionVersion",
    "ExamResult",
    "Item",
    "ItemImport",
    "ItemReport",
    "ItemSearch",
    "ItemVote",
    "Job",
    "Json",
    "LlmCall",
    "LlmProjectSettings",
    "LlmProvider",
    "LlmVerdict",
    "LoginFailure",
    "NullableJson",
    "PayBonusMeasure",
    "PayBonusRule",
    "PayBudget",
    "PayBudgetBlock",
    "PayCursor",
    "PayPosting",
    "PayRate",
    "PayRatePremium",
    "PayTransaction",
    "PayoutAccount",
    "Project",
    "ProjectCounters",
    "ProjectGuidelines",
    "ProjectMember",
    "ProjectRedundancy",
    "ProjectRules",
    "ProjectSkill",
    "ProjectWorkforce",
    "RedteamCampaign",
    "RedteamTurn",
    "RedundancyModel",
    "Review",
    "StatementVote",
    "Suggestion",
    "User",
    "UserCredential",
    "UserSkill",
    "WorkerFlag",
    "WorkerReliability",
    "WorkerStats",
    "sql_values",
]
