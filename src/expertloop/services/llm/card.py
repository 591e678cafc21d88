"""What an export's dataset card says about model judges: the project's triage rule (as
recorded in its model settings, with the agreement measured for it) and each judge's
calibration against the experts, read from stored verdicts, gold and the consensus
snapshot (nothing is refitted for the card)."""

from __future__ import annotations

from typing import Any

from expertloop.services.llm.calibration import calibration_of_project
from expertloop.store import Database
from expertloop.store import consensus as snapshot_store
from expertloop.store import llm_judges as judge_store

__all__ = ["judges_for_card"]


def judges_for_card(
    db: Database, project_id: int, task_type: str, config: dict[str, Any]
) -> dict[str, Any] | None:
    """``{"triage": ..., "calibration": [rows]}``, or ``None`` when the project has neither
    a triage rule nor any verdict."""
    with db.read() as conn:
        settings = judge_store.get_settings(conn, project_id)
        any_verdict = bool(judge_store.verdicts_after(conn, project_id, limit=1))
        snapshot = snapshot_store.load_snapshot(conn, project_id, False)
    triage = settings.triage if settings is not None else None
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
