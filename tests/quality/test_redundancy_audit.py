"""The audit sample: which items get one answer more than ``min_answers`` whatever their
confidence. The live system (salt: the project id) and ``replay`` (salt: its seed) choose by
the same pure function, :func:`is_audited`, and set targets by the same :func:`item_target`."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from expertloop.quality import QualityInputError
from expertloop.quality.redundancy import (
    RedundancyPolicy,
    audit_draw,
    audit_policy,
    is_audited,
    item_target,
    replay,
)


def test_the_choice_is_stable_nested_and_takes_the_share_in_expectation() -> None:
    items = range(20_000)
    at_10 = {i for i in items if is_audited(42, i, 0.1)}
    at_20 = {i for i in items if is_audited(42, i, 0.2)}
    # Binomial(20000, 0.1): sd 42, so +-300 is seven sd.
    assert abs(len(at_10) - 2_000) < 300
    assert abs(len(at_20) - 4_000) < 300
    assert at_10 <= at_20  # a larger share keeps every item a smaller one audited
    # Deterministic: the same draw in another call (another process: sha256, not hash()).
    assert audit_draw(42, 7) == audit_draw("42", "7")
    assert audit_draw(42, 7) == pytest.approx(
        int.from_bytes(hashlib.sha256(b"42:7").digest()[:8], "big") / 2**64
    )
    # Another project audits other items.
    other = {i for i in items if is_audited(43, i, 0.1)}
    assert len(at_10 & other) < 0.2 * len(at_10)
    assert not any(is_audited(42, i, 0.0) for i in range(1000))
    assert all(is_audited(42, i, 1.0) for i in range(1000))


def test_an_audited_item_wants_one_answer_more_than_the_minimum_then_the_rule() -> None:
    policy = RedundancyPolicy(min_answers=1, max_answers=4, target_confidence=0.9)
    assert audit_policy(policy).min_answers == 2
    assert item_target(1, 0.99, policy) == 1
    assert item_target(1, 0.99, policy, audited=True) == 2
    assert item_target(2, 0.99, policy, audited=True) == 2
    assert item_target(2, 0.6, policy, audited=True) == 3
    capped = RedundancyPolicy(min_answers=2, max_answers=2, target_confidence=0.9)
    assert item_target(2, 0.5, capped, audited=True) == 2


def test_replay_audits_the_items_the_live_rule_picks_with_its_seed_as_salt() -> None:
    """Every item has four agreeing answers and an uninformed model at a low target stops
    each at ``min_answers=1``: only the audited items use a second answer, and they are
    exactly those :func:`is_audited` picks with the replay's seed."""
    n = 400
    items = np.repeat([f"item{k}" for k in range(n)], 4)
    workers = np.tile(["a", "b", "c", "d"], n)
    labels = np.full(4 * n, "x")
    for seed in (0, 5):
        result = replay(workers, items, labels, min_answers=1, max_answers=4,
                        target_confidence=0.6, calibration_share=0.25, seed=seed)
        used = dict(zip(result.item_ids.tolist(), result.answers_used_per_item.tolist(),
                        strict=True))
        audited = {i for i in used if is_audited(seed, i, 0.25)}
        assert 50 < len(audited) < 150
        assert {i for i, k in used.items() if k == 2} == audited
        assert {i for i, k in used.items() if k == 1} == set(used) - audited
    plain = replay(workers, items, labels, min_answers=1, max_answers=4,
                   target_confidence=0.6, seed=0)
    assert plain.answers_used == n
    with pytest.raises(QualityInputError):
        replay(workers, items, labels, calibration_share=1.5)
