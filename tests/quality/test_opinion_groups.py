"""Opinion groups (Polis's method) recover a simulated panel's known groups, its consensus
statements and its contested ones."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from expertloop.quality import QualityInputError
from expertloop.quality.opinion_groups import opinion_groups, simulate_opinion_panel


@pytest.mark.parametrize(
    ("n_groups", "seed"), [(2, 1), (2, 7), (3, 2), (3, 11), (4, 5), (4, 6)]
)
def test_a_panel_with_known_groups_is_grouped_as_it_was_built(n_groups: int, seed: int) -> None:
    panel = simulate_opinion_panel(n_voters=30 * n_groups, n_groups=n_groups,
                                   n_contested=4 * n_groups, missing=0.2, seed=seed)
    found = opinion_groups(panel.votes, seed=0)
    assert found.n_groups == n_groups
    assert adjusted_rand_score(panel.groups, found.labels) > 0.9
    assert found.consensus.tolist() == panel.consensus.tolist()
    assert found.contested.tolist() == panel.contested.tolist()


def test_support_is_the_smoothed_agree_rate_overall_and_in_each_group() -> None:
    nan = np.nan
    votes = np.array([
        [1, 1, -1, nan],
        [1, 1, -1, 1],
        [1, 0, -1, 1],
        [1, -1, 1, -1],
        [1, -1, 1, nan],
        [-1, -1, 1, -1],
    ])
    found = opinion_groups(votes, seed=0, min_votes=1)
    assert found.votes.tolist() == [6, 6, 6, 4]
    assert found.agree.tolist() == [5, 2, 3, 2]
    assert found.disagree.tolist() == [1, 3, 3, 2]
    assert found.support.tolist() == pytest.approx([6 / 8, 3 / 8, 4 / 8, 3 / 6])
    assert found.n_groups == 2
    assert sorted(found.labels[:3].tolist()) == [found.labels[0]] * 3
    first = int(found.labels[0])
    # The first three voters agree on statement 0 three times of three.
    assert found.group_support[0, first] == pytest.approx(4 / 5)
    assert found.group_votes[:, first].tolist() == [3, 3, 3, 2]
    assert found.contested[2]
    assert np.isnan(found.coords).sum() == 0


def test_a_panel_without_structure_is_one_group() -> None:
    rng = np.random.default_rng(3)
    votes = np.where(rng.random((80, 12)) < 0.5, 1.0, -1.0)
    found = opinion_groups(votes, seed=0, min_silhouette=0.5)
    assert found.n_groups == 1
    assert np.isnan(found.silhouette)
    assert set(found.labels.tolist()) == {0}


def test_voters_with_too_few_votes_are_left_out_of_the_groups_but_counted_overall() -> None:
    panel = simulate_opinion_panel(n_voters=40, seed=4)
    votes = np.vstack([panel.votes, np.full((1, panel.votes.shape[1]), np.nan)])
    votes[-1, 0] = 1.0
    found = opinion_groups(votes, seed=0, min_votes=3)
    assert found.labels[-1] == -1
    assert np.isnan(found.coords[-1]).all()
    assert found.votes[0] == (~np.isnan(votes[:, 0])).sum()


def test_the_grouping_is_the_same_for_the_same_seed() -> None:
    panel = simulate_opinion_panel(n_voters=60, n_groups=3, seed=9)
    first = opinion_groups(panel.votes, seed=5)
    again = opinion_groups(panel.votes, seed=5)
    assert first.labels.tolist() == again.labels.tolist()


@pytest.mark.parametrize("votes", [[], [[2, 1]], [1, 0, -1]])
def test_malformed_votes_are_refused(votes: object) -> None:
    with pytest.raises(QualityInputError):
        opinion_groups(votes, seed=0)  # type: ignore[arg-type]
