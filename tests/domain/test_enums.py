"""Each set of statuses, outcomes and formats is one enum in domain/; the lists kept
elsewhere (the database's CHECK constraints, the SDK, which imports nothing of the server,
the export writers) say the same."""

from __future__ import annotations

from sqlalchemy import CheckConstraint

from expertloop.client.projects import EXPORT_FORMATS
from expertloop.client.reviews import REVIEW_STATUSES
from expertloop.domain import (
    AssignmentStatus,
    ExportFile,
    ExportFormat,
    ReviewOutcome,
    ReviewSource,
    ReviewStatus,
    Role,
)
from expertloop.exports.rows import FORMATS
from expertloop.exports.writers import OUTPUTS
from expertloop.store.tables import Base


def _checks() -> dict[str, str]:
    return {
        str(constraint.name): str(constraint.sqltext)
        for table in Base.metadata.sorted_tables
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }


def test_the_database_checks_each_enum_column_against_the_enums_values() -> None:
    checks = _checks()
    assert checks["ck_users_role"] == "role IN ('admin', 'manager', 'reviewer', 'worker')"
    assert checks["ck_assignments_status"] == (
        "status IN ('leased', 'answered', 'released', 'expired')"
    )
    assert checks["ck_reviews_source"] == "source IN ('sample', 'request', 'escalation')"
    assert checks["ck_reviews_outcome"] == (
        "outcome IS NULL OR outcome IN ('accepted', 'rejected', 'fixed')"
    )
    assert [s.value for s in AssignmentStatus] == ["leased", "answered", "released", "expired"]
    assert [r.value for r in Role] == ["admin", "manager", "reviewer", "worker"]
    assert [s.value for s in ReviewSource] == ["sample", "request", "escalation"]


def test_a_review_status_is_pending_or_one_of_the_outcomes() -> None:
    assert [s.value for s in ReviewStatus] == ["pending", *(o.value for o in ReviewOutcome)]


def test_the_sdk_and_the_export_writers_list_the_same_values_as_the_domain() -> None:
    assert tuple(s.value for s in ReviewStatus) == REVIEW_STATUSES
    assert tuple(f.value for f in ExportFormat) == EXPORT_FORMATS
    assert tuple(f.value for f in ExportFormat) == FORMATS
    assert set(OUTPUTS) < {f.value for f in ExportFile}


def test_item_report_reasons_and_resolutions_are_checked_by_the_database_and_known_to_the_sdk(
) -> None:
    from expertloop.client.my_work import REPORT_REASONS
    from expertloop.domain import ItemReportReason, ItemReportResolution

    checks = _checks()
    assert checks["ck_item_reports_reason"] == (
        "reason IN ('broken', 'ambiguous', 'harmful', 'outside_expertise')"
    )
    assert checks["ck_item_reports_resolution"] == (
        "resolution IS NULL OR resolution IN ('resolved', 'disabled')"
    )
    assert tuple(r.value for r in ItemReportReason) == REPORT_REASONS
    assert [r.value for r in ItemReportResolution] == ["resolved", "disabled"]
