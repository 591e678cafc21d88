"""The workforce's rules in Python: required skills, qualification, exam lockout, and the
gold and disputed preferences with the claim tiers they compile to."""

from __future__ import annotations

import random

from expertloop.scheduling import (
    EXAM_NOT_LOCKED,
    HAS_REQUIRED_SKILLS,
    QUALIFIED,
    WORKFORCE_RULES,
    ItemState,
    WorkerState,
)

ITEM = ItemState(id=1, priority=0, target=3, answers=0, live_leases=0)


def _item(id: int, *, gold: bool = False, disputed: bool = False, answers: int = 0) -> ItemState:
    return ItemState(id, 0, 3, answers, 0, gold=gold, disputed=disputed)


def test_a_worker_needs_every_required_skill_at_its_level() -> None:
    required = {"medicine": 2, "law": 1}
    assert HAS_REQUIRED_SKILLS.admits(ITEM, WorkerState(required_skills={}))
    assert HAS_REQUIRED_SKILLS.admits(
        ITEM, WorkerState(skills={"medicine": 3, "law": 1}, required_skills=required)
    )
    assert not HAS_REQUIRED_SKILLS.admits(
        ITEM, WorkerState(skills={"medicine": 1, "law": 5}, required_skills=required)
    )
    assert not HAS_REQUIRED_SKILLS.admits(
        ITEM, WorkerState(skills={"medicine": 2}, required_skills=required)
    )


def test_a_worker_qualifies_with_a_best_score_at_the_pass_mark_and_waits_after_a_fail() -> None:
    assert QUALIFIED.admits(ITEM, WorkerState())
    assert QUALIFIED.admits(ITEM, WorkerState(pass_mark=0.8, exam_score=0.8))
    assert not QUALIFIED.admits(ITEM, WorkerState(pass_mark=0.8, exam_score=0.79))
    assert not QUALIFIED.admits(ITEM, WorkerState(pass_mark=0.8))
    assert not EXAM_NOT_LOCKED.admits(ITEM, WorkerState(exam_locked=True))
    assert EXAM_NOT_LOCKED.admits(ITEM, WorkerState())


def test_gold_comes_first_when_due_and_not_at_all_when_not_due() -> None:
    items = [_item(1, answers=2), _item(2, gold=True), _item(3, gold=True, answers=1)]
    assert WORKFORCE_RULES.pick_next_item(items, WorkerState(gold_due=True)).id == 3
    assert WORKFORCE_RULES.pick_next_item(items, WorkerState(gold_due=False)).id == 1
    assert WORKFORCE_RULES.pick_next_item(items[1:], WorkerState(gold_due=False)) is None
    # A project without a gold share serves gold like any item.
    assert WORKFORCE_RULES.pick_next_item(items, WorkerState(gold_due=None)).id == 1


def test_disputed_items_come_first_for_a_routed_worker_only() -> None:
    items = [_item(1, answers=2), _item(2, disputed=True)]
    assert WORKFORCE_RULES.pick_next_item(items, WorkerState(routed=True)).id == 2
    assert WORKFORCE_RULES.pick_next_item(items, WorkerState(routed=False)).id == 1


def test_the_tiers_are_one_claim_per_preference_that_applies_then_the_rest() -> None:
    assert len(WORKFORCE_RULES.claims(WorkerState())) == 1
    assert len(WORKFORCE_RULES.claims(WorkerState(gold_due=False))) == 1
    assert len(WORKFORCE_RULES.claims(WorkerState(gold_due=True, routed=True))) == 3
    gold_first, disputed, rest = WORKFORCE_RULES.claims(WorkerState(gold_due=True, routed=True))
    assert "i.gold IS NOT NULL" in gold_first.sql["postgresql"]
    assert "i.gold IS NULL AND i.disputed" in disputed.sql["postgresql"]
    assert "NOT i.disputed" in rest.sql["postgresql"]
    # The same tier is compiled once and reused (PostgreSQL prepares it once per connection).
    assert WORKFORCE_RULES.claims(WorkerState(gold_due=True))[0] is gold_first


def test_gold_due_keeps_each_workers_gold_within_one_item_of_the_share() -> None:
    from expertloop.services.workforce.gold import gold_is_due

    rng = random.Random(3)
    for share in (0.05, 0.2, 0.5):
        gold = 0
        for answers in range(400):
            if gold_is_due(share, answers=answers, gold_answers=gold, rng=rng):
                gold += 1
            assert abs(gold - share * (answers + 1)) <= 1
    assert gold_is_due(None, answers=10, gold_answers=0, rng=rng) is None
    assert gold_is_due(0.0, answers=10, gold_answers=0, rng=rng) is False
