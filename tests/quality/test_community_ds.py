"""The community Dawid-Skene model and the one-standard-error rule of ``auto``."""

from __future__ import annotations

import numpy as np
import pytest

from expertloop.quality import _select
from expertloop.quality import aggregation as agg
from expertloop.quality._agg_common import Observations, prepare
from expertloop.quality._cbcc import fit_community_ds


def strict_and_lenient_crowd(
    seed: int, n_items: int = 1000, per_item: int = 5, n_workers: int = 60
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two groups of yes/no judges biased in opposite directions, about 80 answers each (25
    on the rare class): too few for a worker's own confusion matrix to be sure, plenty for
    its group's. (With half as many, the communities often stay merged: a worker leaves the
    pooled community only where its counts say so beyond the pull of the larger group.)"""
    rng = np.random.default_rng(seed)
    strict = np.array([[0.97, 0.03], [0.55, 0.45]])  # rarely says yes, misses many
    lenient = np.array([[0.6, 0.4], [0.03, 0.97]])  # says yes too readily
    group = np.arange(n_workers) % 2
    conf = np.where(group[:, None, None] == 0, strict, lenient)
    truth = (rng.random(n_items) < 0.3).astype(int)
    workers = np.concatenate([rng.choice(n_workers, per_item, replace=False) for _ in truth])
    items = np.repeat(np.arange(n_items), per_item)
    labels = (rng.random(len(items)) > conf[workers, truth[items], 0]).astype(int)
    return workers, items, labels, truth, group


@pytest.mark.parametrize("seed", range(3))
def test_workers_who_share_a_bias_share_a_community(seed: int) -> None:
    workers, items, labels, _, group = strict_and_lenient_crowd(seed)
    fit = fit_community_ds(prepare(workers, items, labels), max_iter=1000, tol=1e-6)
    # Each community is (almost) all strict or all lenient judges.
    pure = sum(
        max(np.sum(group[fit.community == c] == 0), np.sum(group[fit.community == c] == 1))
        for c in np.unique(fit.community)
    )
    assert pure >= 0.95 * len(group)
    assert np.allclose(fit.confusion.sum(axis=2), 1.0)
    assert np.allclose(fit.community_confusion.sum(axis=2), 1.0)


def test_a_community_lends_its_members_the_bias_their_own_answers_barely_show() -> None:
    wins = 0
    for seed in range(5):
        workers, items, labels, truth, _ = strict_and_lenient_crowd(seed)
        community = agg.dawid_skene(
            workers, items, labels, prior_strength="evidence", communities=8
        )
        assert community.method == "community_dawid_skene"
        own = agg.dawid_skene(workers, items, labels)
        hierarchical = agg.dawid_skene(workers, items, labels, prior_strength="evidence")
        acc = float(np.mean(community.labels == truth))
        wins += acc > max(np.mean(own.labels == truth), np.mean(hierarchical.labels == truth))
    assert wins >= 4


def test_the_community_model_does_not_depend_on_the_order_of_the_answers() -> None:
    workers, items, labels, _, _ = strict_and_lenient_crowd(1, n_items=200)
    order = np.random.default_rng(0).permutation(len(workers))
    options = {"prior_strength": "evidence", "communities": 3}
    a = agg.dawid_skene(workers, items, labels, **options)
    b = agg.dawid_skene(workers[order], items[order], labels[order], **options)
    assert np.allclose(a.posteriors, b.posteriors, atol=1e-10)


@pytest.mark.parametrize(
    "options", [{"communities": 3}, {"prior_strength": "evidence", "communities": 0}]
)
def test_communities_need_a_learned_strength_and_a_positive_count(
    options: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match="communities"):
        agg.dawid_skene(["a", "b"], [1, 1], ["x", "y"], **options)


def fake(confidence: float, on_odd_items: float | None = None) -> _select.Fitter:
    """Every answer predicted from the majority's shares: workers give the item's likely label
    with probability ``confidence`` (``on_odd_items`` on items of odd code, if given)."""

    def fit(obs: Observations) -> _select.CandidateFit:
        shares = obs.item_class_counts + 1e-3
        post = shares / shares.sum(axis=1, keepdims=True)
        k = obs.n_classes
        odd = confidence if on_odd_items is None else on_odd_items

        def prob(i: np.ndarray, w: np.ndarray, lab: np.ndarray) -> np.ndarray:
            c = np.where(i % 2 == 1, odd, confidence)
            return np.asarray(np.where(post[i].argmax(axis=1) == lab, c, (1 - c) / (k - 1)))

        return _select.CandidateFit(post, prob)

    return fit


def crowd_obs() -> Observations:
    workers, items, labels, _, _ = strict_and_lenient_crowd(0, n_items=300, per_item=3)
    return prepare(workers, items, labels)


def test_a_richer_model_within_noise_of_the_majority_models_gives_way_to_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_select, "COMMUNITY_CANDIDATE", True)
    for name in _select.CANDIDATES:
        monkeypatch.setitem(_select._FITTERS, name, fake(0.6))
    # Better on half the items and worse on the other half: better on the whole, by a hair
    # the item-to-item spread swamps.
    monkeypatch.setitem(_select._FITTERS, "community_dawid_skene", fake(0.7, on_odd_items=0.49))
    obs = crowd_obs()
    scores = _select.held_out_scores(obs, n_repeats=1)
    ll = {k: v.mean() for k, v in scores.log_likelihood.items()}
    assert max(ll, key=ll.get) == "community_dawid_skene"
    assert _select.select(obs, scores).chosen == ("majority_vote",)
    assert _select.select(obs, scores, simple_z=0.0).chosen == ("community_dawid_skene",)
    # Better on every item: it is used.
    monkeypatch.setitem(_select._FITTERS, "community_dawid_skene", fake(0.7))
    scores = _select.held_out_scores(obs, n_repeats=1)
    assert _select.select(obs, scores).chosen == ("community_dawid_skene",)
    # The switch off: the community model is not a candidate.
    monkeypatch.setattr(_select, "COMMUNITY_CANDIDATE", False)
    assert "community_dawid_skene" not in _select.held_out_scores(obs, n_repeats=1).hits


def test_the_community_model_is_a_candidate_of_auto_by_default() -> None:
    assert _select.COMMUNITY_CANDIDATE
    assert "community_dawid_skene" in _select.held_out_scores(crowd_obs(), n_repeats=1).hits
