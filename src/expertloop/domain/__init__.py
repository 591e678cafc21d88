"""Plain value objects, enums and authorisation policies shared by every layer."""

from expertloop.domain.models import (
    Answer,
    Assignment,
    AssignmentStatus,
    ItemPublic,
    Project,
    Review,
    ReviewOutcome,
    Role,
    User,
)
from expertloop.domain.policies import (
    can_add_members,
    can_claim_items,
    can_create_projects,
    can_import_items,
    can_manage_users,
    can_read_answers,
    can_read_project,
    can_request_reviews,
    can_review_answers,
)

__all__ = [
    "Answer",
    "Assignment",
    "AssignmentStatus",
    "ItemPublic",
    "Project",
    "Review",
    "ReviewOutcome",
    "Role",
    "User",
    "can_add_members",
    "can_claim_items",
    "can_create_projects",
    "can_import_items",
    "can_manage_users",
    "can_read_answers",
    "can_read_project",
    "can_request_reviews",
    "can_review_answers",
]
