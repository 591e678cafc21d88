"""A judge's agreement with the experts on the audit sample
(``quality.calibration.audit_agreement``): the reference per item, what is compared, and
that under triage it is unbiased where the overlap the stopping model fits is not."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from expertloop.quality.calibration import audit_agreement, expert_reference
from expertloop.quality.redundancy import is_audited, replay


def test_the_experts_reference_is_a_strict_plurality_of_enough_votes() -> None:
    assert expert_reference(["a", "a"]) == "a"
    assert expert_reference(["a", "b", "a"]) == "a"
    assert expert_reference(["a", "b"]) is None  # a tie
    assert expert_reference(["a", "b", "c"]) is None
    assert expert_reference(["a"]) is None  # one expert: no consensus
    assert expert_reference(["a"], min_votes=1) == "a"
    assert expert_reference([]) is None


def test_gold_wins_ties_and_single_answers_are_counted_apart() -> None:
    result = audit_agreement(
        {1: "a", 2: "a", 3: "b", 4: "a", 5: "b"},
        {1: ["a", "a"], 2: ["b", "b", "a"], 3: ["a", "b"], 4: ["a"], 5: ["a", "a"]},
        {5: "b"},
    )
    # 1 agrees, 2 does not, 3 is a tie, 4 waits for its second answer, 5 agrees with gold.
    assert (result.agreement.n, result.agreement.accuracy) == (3, pytest.approx(2 / 3))
    assert (result.gold_items, result.consensus_items) == (1, 2)
    assert (result.split_items, result.pending_items) == (1, 1)
    low, high = result.agreement.accuracy_lower, result.agreement.accuracy_upper
    assert low is not None
    assert high is not None
    assert low < 2 / 3 < high
    empty = audit_agreement({}, {})
    assert (empty.agreement.n, empty.agreement.accuracy) == (0, None)
    assert set(result.to_dict()) >= {"n", "accuracy", "kappa", "split_items", "gold_items"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_under_triage_the_audit_sample_measures_the_judge_where_the_overlap_reads_low(
    seed: int,
) -> None:
    """Three classes, experts right 90% of the time, a judge right 85%, one expert answer
    an item at least, audit share 0.2: replayed through the stopping rule. The items with
    two answers or more are mostly audited ones and ones where the judge contradicted the
    first expert; on them the judge agrees with the experts about half the time. On the
    audited items alone the interval covers its real accuracy."""
    rng = np.random.default_rng(seed)
    n_items, k, share = 1000, 3, 0.2
    truth = rng.integers(k, size=n_items)

    def said(i: int, accuracy: float) -> int:
        if rng.random() < accuracy:
            return int(truth[i])
        return int(rng.choice([c for c in range(k) if c != truth[i]]))

    workers, items, labels = [], [], []
    for i in range(n_items):
        for w in rng.choice(8, 3, replace=False):
            workers.append(int(w))
            items.append(i)
            labels.append(said(i, 0.9))
    judged = [said(i, 0.85) for i in range(n_items)]
    right = float(np.mean(np.asarray(judged) == truth))
    # Unshuffled, each item's answers are used in the order given.
    result = replay(workers, items, labels, min_answers=1, max_answers=3,
                    target_confidence=0.95, seed=seed, calibration_share=share, shuffle=False,
                    judges=(["j"] * n_items, list(range(n_items)), judged))
    used: dict[int, list[int]] = defaultdict(list)
    for i, label, kept in zip(items, labels, result.used.tolist(), strict=True):
        if kept:
            used[i].append(label)
    # The audited items' reference: their first two answers, collected whatever the judge
    # said (a third is asked for where the judge sided against them). A 99% interval: three
    # draws at 95% would miss once in seven runs of the test.
    audited = audit_agreement(
        {i: judged[i] for i in range(n_items) if is_audited(seed, i, share)},
        {i: votes[:2] for i, votes in used.items()}, confidence=0.99,
    ).agreement
    overlap = audit_agreement(
        {i: judged[i] for i in range(n_items) if len(used[i]) >= 2}, used
    ).agreement
    assert audited.n >= 140
    assert overlap.n > audited.n
    assert audited.accuracy_lower is not None
    assert audited.accuracy_upper is not None
    assert audited.accuracy_lower <= right <= audited.accuracy_upper, (right, audited)
    assert overlap.accuracy_upper is not None
    assert overlap.accuracy_upper < right - 0.15, (right, overlap)
