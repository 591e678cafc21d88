"""Calibration: how far each judge agrees with the experts, per criterion and per model.

The reference for an item is its gold when it has one, else the experts' consensus (from
the project's consensus snapshot, answers of gold items left out) when at least
``min_answers`` experts answered it. Each judge's verdicts and each reference are turned
into one category per key (``overall`` and each criterion for pairwise, each rubric
criterion, the label) by the task type's judge, then compared with
:func:`expertloop.quality.calibration.judge_agreement`: accuracy with its Wilson interval,
Cohen's kappa with a bootstrap interval. Keys a judge was unsure of are counted apart
(``unsure``), so coverage shows beside accuracy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from expertloop.domain import User
from expertloop.quality.calibration import JudgeAgreement, judge_agreement
from expertloop.services.consensus import read_consensus
from expertloop.services.llm.common import check_manager
from expertloop.store import Database
from expertloop.store import llm_judges as judge_store
from expertloop.tasks import get_task_type
from expertloop.tasks.judging import judge_for

__all__ = ["Calibration", "CalibrationRow", "calibrate", "calibration_of_project"]

_PAGE = 1000


@dataclass(frozen=True, slots=True)
class CalibrationRow:
    """One judge (and the model it ran on) on one key."""

    judge: str
    model: str
    key: str
    agreement: JudgeAgreement
    gold_items: int
    consensus_items: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge, "model": self.model, "key": self.key,
            "gold_items": self.gold_items, "consensus_items": self.consensus_items,
            **self.agreement.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Calibration:
    project_id: int
    min_answers: int
    reference_items: int
    rows: list[CalibrationRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id, "min_answers": self.min_answers,
            "reference_items": self.reference_items, "rows": [r.to_dict() for r in self.rows],
        }


def calibration_of_project(
    db: Database, project_id: int, task_type: str, config: dict[str, Any],
    consensus: dict[int, tuple[dict[str, Any], int]], *, min_answers: int = 2, seed: int = 0,
) -> Calibration:
    """The numbers for a project whose consensus lines (item id -> (consensus, answers))
    are given (no permission check: the caller did it)."""
    judge = judge_for(get_task_type(task_type))
    if judge is None:
        return Calibration(project_id, min_answers, 0)
    references: dict[int, tuple[str, dict[str, str]]] = {}
    for item_id, (value, n_answers) in consensus.items():
        if n_answers >= min_answers and value:
            references[item_id] = ("consensus", judge.categories(value, config))
    # Gold wins over consensus; gold items are read with the verdicts, a page at a time.
    pairs: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
    unsure: dict[tuple[str, str, str], int] = defaultdict(int)
    sources: dict[tuple[str, str, str], dict[str, int]] = defaultdict(
        lambda: {"gold": 0, "consensus": 0}
    )
    after = 0
    while True:
        with db.read() as conn:
            verdicts = judge_store.verdicts_after(conn, project_id, after_id=after, limit=_PAGE)
            if len(verdicts) == _PAGE:
                # The page may end part-way through an item's judges: leave that item for
                # the next page (unless it fills the page alone).
                whole = [v for v in verdicts if v.item_id != verdicts[-1].item_id]
                verdicts = whole or verdicts
            ids = sorted({v.item_id for v in verdicts})
            gold = {
                i.id: i.gold
                for i in judge_store.items_after(conn, project_id, 0, len(ids), ids)
                if i.gold
            } if ids else {}
        if not verdicts:
            break
        after = verdicts[-1].item_id
        for verdict in verdicts:
            if verdict.item_id in gold:
                source, reference = "gold", judge.categories(gold[verdict.item_id] or {}, config)
            elif verdict.item_id in references:
                source, reference = references[verdict.item_id]
            else:
                continue
            said = judge.categories(verdict.value or {}, config)
            for key, expected in reference.items():
                slot = (verdict.judge, verdict.model, key)
                sources[slot][source] += 1
                if key in said:
                    pairs[slot].append((said[key], expected))
                else:
                    unsure[slot] += 1
    rows = []
    for slot in sorted(set(pairs) | set(unsure)):
        judged = pairs.get(slot, [])
        agreement = judge_agreement(
            [a for a, _ in judged], [b for _, b in judged], unsure=unsure.get(slot, 0), seed=seed
        )
        rows.append(
            CalibrationRow(*slot, agreement, sources[slot]["gold"], sources[slot]["consensus"])
        )
    return Calibration(project_id, min_answers, len(references), rows)


def calibrate(
    db: Database, *, actor: User, project_id: int, min_answers: int = 2,
    inline_max_items: int = 10_000,
) -> Calibration:
    """Judge-expert agreement for the project's managers (see the module docstring)."""
    project = check_manager(db, actor, project_id, "read its judges' calibration")
    view = read_consensus(
        db, actor=actor, project_id=project_id, include_gold=False,
        inline_max_items=inline_max_items,
    )
    consensus = {
        int(line["item_id"]): (line.get("consensus") or {}, int(line.get("n_answers") or 0))
        for line in view.lines()
    }
    return calibration_of_project(
        db, project_id, project.task_type, project.config, consensus, min_answers=min_answers
    )
