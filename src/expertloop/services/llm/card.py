"""What an export's dataset card says about model judges: the triage actually applied (the
project's rule, whether adaptive redundancy applied it, and each judge's reliability and
agreement with the experts as the last model fit measured them) and each judge's
calibration against the experts, read from stored verdicts, gold and the consensus
snapshot (nothing is refitted for the card).

A judge's reported reliability is its agreement with the experts on the audit sample
(``audit``, measured by the fit: ``services/redundancy_jobs.py``), not the stopping model's
``accuracy`` or the ``agreement`` on the items two experts answered: under triage those
items are mostly ones where the judge contradicted the first expert, so those two read far
below the judge's real accuracy (docs/quality.md). Below :data:`AUDIT_MIN_ITEMS` items
compared, ``enough`` is false and the card and the console give the count, not a figure.
"""

from __future__ import annotations

from typing import Any

from expertloop.services.clock import iso_utc
from expertloop.services.llm.calibration import calibration_of_project
from expertloop.services.redundancy import triage_rule_judges
from expertloop.store import Database
from expertloop.store import consensus as snapshot_store
from expertloop.store import llm_judges as judge_store
from expertloop.store import redundancy as redundancy_store

__all__ = ["AUDIT_MIN_ITEMS", "SUGGESTED_AUDIT_SHARE", "judges_for_card", "triage_applied"]

# Fewer audited items compared than this and a judge's agreement is not reported as a
# figure (its 95% interval would span 0.3 or more).
AUDIT_MIN_ITEMS = 20
# The audit share suggested to a project with none.
SUGGESTED_AUDIT_SHARE = 0.1


def triage_applied(db: Database, project_id: int) -> dict[str, Any] | None:
    """The project's triage as applied: ``None`` without a rule; else the rule, whether it
    is applied (named judges and adaptive redundancy on), the stopping policy, and per
    judge what the last fit measured (``measured``: judges it could not measure, with no
    verdict on an item two experts answered, are absent and weigh nothing): the stopping
    model's ``accuracy`` and the ``agreement`` on that overlap (both biased low under
    triage), and ``audit``, the agreement on the audit sample with its interval and the
    items it rests on, ``enough`` when they are :data:`AUDIT_MIN_ITEMS` or more
    (``None``: a model fitted before it was measured)."""
    with db.read() as conn:
        settings = judge_store.get_settings(conn, project_id)
        policy = redundancy_store.load_settings(conn, project_id)
        model = redundancy_store.load_model(conn, project_id)
    rule = settings.triage if settings is not None else None
    if rule is None:
        return None
    judges = triage_rule_judges(rule)
    fitted = (model.judges or {}) if model is not None else {}
    measured = {
        name: {k: v for k, v in fitted[name].items() if k != "confusion"}
        for name in judges if name in fitted
    }
    for m in measured.values():
        audit = m.get("audit")
        if isinstance(audit, dict):
            m["audit"] = {**audit, "enough": int(audit.get("n") or 0) >= AUDIT_MIN_ITEMS}
        else:  # a model fitted before the audit sample was measured
            m["audit"] = None
    return {
        "rule": rule,
        "judges": judges,
        "applied": bool(judges) and policy is not None,
        "policy": None if policy is None else {
            "min_answers": policy.min_answers, "max_answers": policy.max_answers,
            "target_confidence": policy.target_confidence,
            "audit_share": policy.audit_share,
        },
        "measured": measured,
        "model_fitted_at": None if model is None else iso_utc(model.fitted_at),
        "audit_min_items": AUDIT_MIN_ITEMS,
        "suggested_audit_share": SUGGESTED_AUDIT_SHARE,
    }


def judges_for_card(
    db: Database, project_id: int, task_type: str, config: dict[str, Any]
) -> dict[str, Any] | None:
    """``{"triage": ..., "calibration": [rows]}``, or ``None`` when the project has neither
    a triage rule nor any verdict."""
    triage = triage_applied(db, project_id)
    with db.read() as conn:
        any_verdict = bool(judge_store.verdicts_after(conn, project_id, limit=1))
        snapshot = snapshot_store.load_snapshot(conn, project_id, False)
    if triage is None and not any_verdict:
        return None
    consensus: dict[int, tuple[dict[str, Any], int]] = {}
    if snapshot is not None:
        with db.read() as conn:
            for batch in snapshot_store.iter_snapshot_lines(
                conn, project_id, False, snapshot.generation
            ):
                for line in batch:
                    consensus[int(line["item_id"])] = (
                        line.get("consensus") or {}, int(line.get("n_answers") or 0)
                    )
    calibration = calibration_of_project(db, project_id, task_type, config, consensus)
    return {
        "triage": triage,
        "calibration": [row.to_dict() for row in calibration.rows],
    }
