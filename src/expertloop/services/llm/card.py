"""What an export's dataset card says about model judges: the triage actually applied (the
project's rule, whether adaptive redundancy applied it, and each judge's reliability and
agreement with the experts as the last model fit measured them) and each judge's
calibration against the experts, read from stored verdicts, gold and the consensus
snapshot (nothing is refitted for the card)."""

from __future__ import annotations

from typing import Any

from expertloop.services.clock import iso_utc
from expertloop.services.llm.calibration import calibration_of_project
from expertloop.services.redundancy import triage_rule_judges
from expertloop.store import Database
from expertloop.store import consensus as snapshot_store
from expertloop.store import llm_judges as judge_store
from expertloop.store import redundancy as redundancy_store

__all__ = ["judges_for_card", "triage_applied"]


def triage_applied(db: Database, project_id: int) -> dict[str, Any] | None:
    """The project's triage as applied: ``None`` without a rule; else the rule, whether it
    is applied (named judges and adaptive redundancy on), the stopping policy, and per
    judge what the last fit measured (``measured``: judges it could not measure, with no
    verdict on an item two experts answered, are absent and weigh nothing)."""
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
