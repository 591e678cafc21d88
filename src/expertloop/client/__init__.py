"""The Python SDK of expertloop: drive a server's REST API from Python.

Example::

    from expertloop.client import Client

    client = Client("http://127.0.0.1:8000", "el_...")
    project = client.projects.create(
        "Triage questions", "label", config={"labels": ["urgent", "routine"]})
    project.items.add([{"text": "Chest pain for 20 minutes"}])

    # a worker
    worker = Client.login("http://127.0.0.1:8000", "alice", "demo-alice")
    wp = worker.projects.get(project.id)
    while (assignment := wp.next()) is not None:
        assignment.answer({"label": "urgent"})

    # a manager samples answers for review; a reviewer decides on them
    project.reviews.request(fraction=0.1)
    rp = Client.login("http://127.0.0.1:8000", "rita", "...").projects.get(project.id)
    while (review := rp.reviews.next()) is not None:
        review.accept()

See docs/sdk.md for the guide.
"""

from expertloop.client import answers
from expertloop.client.access import AuditEvent, AuditLog, TokenInfo, Tokens
from expertloop.client.client import Client, Users
from expertloop.client.constitutions import (
    Constitution,
    Constitutions,
    ConstitutionVersion,
    OpinionGroup,
    OpinionGroups,
    Principle,
    PrincipleChange,
    PrincipleStats,
    PrincipleStatsReport,
    Proposal,
    Statement,
    StatementSupport,
)
from expertloop.client.errors import (
    AlreadyAnswered,
    AlreadyExists,
    Conflict,
    ExpertloopAPIError,
    ExpertloopClientError,
    ImportFailed,
    InvalidAnswer,
    InvalidInput,
    LeaseLost,
    NetworkError,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ReviewClosed,
    ServerError,
    TooManyAttempts,
    UnsupportedMediaType,
    WorkerPaused,
)
from expertloop.client.flags import Standing, WorkerFlag, WorkerFlags
from expertloop.client.item_reports import Reports
from expertloop.client.items import Items, ItemState
from expertloop.client.llm import LlmProviders, ProviderInfo, ProviderTestResult
from expertloop.client.models import Progress, SubmittedAnswer, User, WorkerItem
from expertloop.client.my_work import REPORT_REASONS, MyAnswer, MyStats, MyWork
from expertloop.client.pay import Pay
from expertloop.client.project_settings import GuidelinesVersion
from expertloop.client.projects import (
    Assignment,
    ExportedFiles,
    JobFailed,
    Members,
    Project,
    Projects,
)
from expertloop.client.redteam import RedTeam
from expertloop.client.redundancy import Redundancy
from expertloop.client.reviews import Review, Reviews, ReviewSummary, WorkerReviewSummary
from expertloop.client.workforce import Workforce

__all__ = [
    "REPORT_REASONS",
    "AlreadyAnswered",
    "AlreadyExists",
    "Assignment",
    "AuditEvent",
    "AuditLog",
    "Client",
    "Conflict",
    "Constitution",
    "ConstitutionVersion",
    "Constitutions",
    "ExpertloopAPIError",
    "ExpertloopClientError",
    "ExportedFiles",
    "GuidelinesVersion",
    "ImportFailed",
    "InvalidAnswer",
    "InvalidInput",
    "ItemState",
    "Items",
    "JobFailed",
    "LeaseLost",
    "LlmProviders",
    "Members",
    "MyAnswer",
    "MyStats",
    "MyWork",
    "NetworkError",
    "NotAuthenticated",
    "NotFound",
    "OpinionGroup",
    "OpinionGroups",
    "Pay",
    "PayloadTooLarge",
    "PermissionDenied",
    "Principle",
    "PrincipleChange",
    "PrincipleStats",
    "PrincipleStatsReport",
    "Progress",
    "Project",
    "Projects",
    "Proposal",
    "ProviderInfo",
    "ProviderTestResult",
    "RedTeam",
    "Redundancy",
    "Reports",
    "Review",
    "ReviewClosed",
    "ReviewSummary",
    "Reviews",
    "ServerError",
    "Standing",
    "Statement",
    "StatementSupport",
    "SubmittedAnswer",
    "TokenInfo",
    "Tokens",
    "TooManyAttempts",
    "UnsupportedMediaType",
    "User",
    "Users",
    "WorkerFlag",
    "WorkerFlags",
    "WorkerItem",
    "WorkerPaused",
    "WorkerReviewSummary",
    "Workforce",
    "answers",
]
