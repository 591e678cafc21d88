"""The ``auto`` rule, Dawid-Skene's structured prior and GLAD's M-step."""

from __future__ import annotations

import numpy as np
import pytest

from crowd_sim import fake_fitter as fake
from crowd_sim import simulate
from expertloop.quality import _select
from expertloop.quality import aggregation as agg
from expertloop.quality._agg_common import Observations, pick_labels, prepare
from expertloop.quality._common import ConvergenceError
from expertloop.quality._ds import trust_confusion
from expertloop.quality._glad import _m_step, fit_glad

CANDIDATES = set(_select.active_fitters())


def biased_workers() -> np.ndarray:
    """Honest, class-biased and spamming workers: the case Dawid-Skene is made for."""
    honest = np.eye(3) * 0.75 + 0.25 / 3
    biased = np.array([[0.9, 0.1, 0.0], [0.3, 0.7, 0.0], [0.1, 0.2, 0.7]])
    other_way = np.array([[0.7, 0.2, 0.1], [0.0, 0.7, 0.3], [0.0, 0.1, 0.9]])
    spammer = np.tile([0.8, 0.1, 0.1], (3, 1))
    return np.stack([honest, honest, biased, biased, other_way, spammer, spammer, spammer])


def small_obs() -> Observations:
    workers, items, labels, _ = simulate(biased_workers(), n_items=40, per_item=4, seed=11)
    return prepare(workers, items, labels)


def test_auto_takes_the_candidate_that_best_predicts_held_out_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in _select.CANDIDATES:
        monkeypatch.setitem(_select._FITTERS, name, fake("majority", confidence=0.5))
    monkeypatch.setitem(_select._FITTERS, "glad", fake("majority", confidence=0.7))
    selection = _select.choose_models(small_obs())
    assert selection.chosen == ("glad",)
    assert set(selection.log_likelihood) == CANDIDATES
    assert max(selection.log_likelihood, key=selection.log_likelihood.get) == "glad"


def test_the_guard_rejects_a_model_whose_labels_the_held_out_answers_contradict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # "wrong" predicts answers best, but its labels are the majority's mirror image: the
    # held-out answers agree with it far less often than with the majority.
    for name in _select.CANDIDATES:
        monkeypatch.setitem(_select._FITTERS, name, fake("majority", confidence=0.5))
    monkeypatch.setitem(_select._FITTERS, "dawid_skene", fake("wrong", confidence=0.7))
    obs = small_obs()
    scores = _select.held_out_scores(obs)
    ll = {k: v.mean() for k, v in scores.log_likelihood.items()}
    assert max(ll, key=ll.get) == "dawid_skene"
    selection = _select.select(obs, scores, guard_z=2.0)
    assert "dawid_skene" in selection.rejected
    assert selection.chosen != ("dawid_skene",)
    # Off by default (chosen so by leave-one-dataset-out): the evidence alone decides.
    assert _select.select(obs, scores).chosen == ("dawid_skene",)


def test_a_candidate_that_does_not_converge_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    def diverge(obs: Observations) -> _select.CandidateFit:
        raise ConvergenceError("no", n_iter=1, delta=1.0)

    monkeypatch.setitem(_select._FITTERS, "glad", diverge)
    selection = _select.choose_models(small_obs())
    assert "glad" not in selection.log_likelihood
    assert set(selection.log_likelihood) == CANDIDATES - {"glad"}


def test_majority_vote_as_a_model_gives_the_majoritys_labels_ties_included() -> None:
    rng = np.random.default_rng(5)
    workers = rng.integers(0, 6, 400)
    items = rng.integers(0, 90, 400)
    labels = rng.integers(0, 3, 400)
    obs = prepare(workers, items, labels)
    post, accuracy = _select.majority_model(obs)
    mv = agg.majority_vote(workers, items, labels)
    assert np.array_equal(obs.classes[pick_labels(post)], mv.labels)
    assert 1 / 3 < accuracy < 1


def test_the_shared_one_coin_model_is_the_majority_weighed_by_the_class_prior() -> None:
    # Item 3 is a tie; class "n" is the more common one elsewhere, so it wins the tie.
    workers = ["a", "b", "c", "a", "b", "c", "a", "b", "a", "b"]
    items = [1, 1, 1, 2, 2, 2, 3, 3, 4, 4]
    labels = ["n", "n", "y", "n", "n", "n", "y", "n", "n", "n"]
    shared = agg.one_coin_dawid_skene(workers, items, labels, prior_strength=float("inf"))
    assert shared.labels.tolist() == ["n", "n", "n", "n"]
    assert len(set(shared.worker_skill.tolist())) == 1
    assert agg.majority_vote(workers, items, labels).labels.tolist()[2] == "n"
    flipped = ["y" if lab == "n" else "n" for lab in labels]
    tie = agg.one_coin_dawid_skene(workers, items, flipped, prior_strength=float("inf"))
    assert tie.labels.tolist()[2] == "y"  # "y" is now the common class
    assert agg.majority_vote(workers, items, flipped).labels.tolist()[2] == "n"  # sorted first


@pytest.mark.parametrize("combine", _select.COMBINE_RULES)
def test_auto_returns_the_models_it_chose_fitted_on_every_answer(
    combine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers, items, labels, _ = simulate(biased_workers(), n_items=120, per_item=4, seed=2)
    obs = prepare(workers, items, labels)
    selection = _select.choose_models(obs, seed=4, combine=combine)
    assert sum(selection.weights.values()) == pytest.approx(1.0)
    if combine == "best":
        assert len(selection.chosen) == 1
    monkeypatch.setattr(_select, "COMBINE", combine)
    result = agg.aggregate(workers, items, labels, seed=4)
    pooled = np.zeros_like(result.posteriors)
    for name, weight in selection.weights.items():
        if name == _select.MAJORITY:
            pooled += weight * _select.majority_model(obs)[0]
            continue
        public, options = _select.CANDIDATES[name]
        pooled += weight * getattr(agg, public)(workers, items, labels, **options).posteriors
    assert np.allclose(result.posteriors, pooled)
    if len(selection.chosen) == 1:
        assert result.method == selection.chosen[0]
    else:
        assert result.method == "stacking"
        assert [n for n, _ in result.components] == list(selection.chosen)
        assert result.worker_confusion is not None
        assert np.allclose(result.worker_confusion.sum(axis=2), 1.0)


def test_stacking_weights_go_to_the_model_that_predicts_each_answer_best() -> None:
    n = 400
    good, poor = np.log(np.full(n, 0.8)), np.log(np.full(n, 0.4))
    # One model better on every answer: it gets (almost) all the weight.
    w = _select.stacking_weights({"a": good, "b": poor})
    assert w["a"] > 0.99
    # Each better on half the answers, symmetrically: the weight is shared evenly.
    half = np.arange(n) < n // 2
    w = _select.stacking_weights({"a": np.where(half, good, poor), "b": np.where(half, poor, good)})
    assert w["a"] == pytest.approx(0.5, abs=1e-6)
    # Identical candidates split the weight; the mixture's score is the best single one's.
    w = _select.stacking_weights({"a": good, "b": good.copy(), "c": poor})
    assert w["a"] == pytest.approx(w["b"])
    assert w["c"] < 0.01


def test_a_pooled_result_leaves_out_a_model_that_does_not_converge_on_all_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    obs = small_obs()
    weights = {"glad": 0.6, "mace": 0.4}
    selection = _select.Selection(("glad", "mace"), weights, {}, {})
    monkeypatch.setattr(agg, "choose_models", lambda *a, **k: selection)

    def diverge(*args: object, **kwargs: object) -> agg.AggregationResult:
        raise ConvergenceError("no", n_iter=1, delta=1.0)

    monkeypatch.setitem(agg._METHODS, "glad", diverge)
    result = agg.aggregate(obs.w, obs.i, obs.l)
    assert result.method == "mace"
    assert np.allclose(result.posteriors, agg.mace(obs.w, obs.i, obs.l).posteriors)


def test_auto_does_not_depend_on_the_order_of_the_answers() -> None:
    workers, items, labels, _ = simulate(biased_workers(), n_items=80, per_item=4, seed=3)
    order = np.random.default_rng(0).permutation(len(workers))
    a = agg.aggregate(workers, items, labels, seed=5)
    b = agg.aggregate(workers[order], items[order], labels[order], seed=5)
    assert a.method == b.method
    assert np.allclose(a.posteriors, b.posteriors, atol=1e-10)


def test_the_seed_only_draws_the_folds() -> None:
    obs = small_obs()
    again = _select.choose_models(obs, seed=7, n_repeats=1)
    assert again == _select.choose_models(obs, seed=7, n_repeats=1)
    other = _select.choose_models(obs, seed=np.random.default_rng(8), n_repeats=1)
    assert set(other.log_likelihood) == set(again.log_likelihood)


def test_paired_standard_error_treats_items_as_the_units() -> None:
    # Two items with two answers each: per-item differences 2 and 0.
    obs = prepare(["a", "b", "a", "b"], [1, 1, 2, 2], [0, 0, 1, 1])
    a = np.array([1.0, 1.0, 1.0, 0.0])
    b = np.array([0.0, 0.0, 1.0, 0.0])
    # mean difference 0.5 = (2 + 0) / 4 answers; sd of (2, 0) is sqrt(2); sqrt(2)*sqrt(2)/4.
    assert _select.paired_standard_error(obs, a, b) == pytest.approx(0.5)
    assert _select.paired_standard_error(obs, a, a) == 0.0


def test_dawid_skene_falls_back_on_a_workers_trust_and_habits_where_it_has_no_answers() -> None:
    # With every item's class known, a worker who only saw class-0 items has no evidence
    # about class 1: its row for class 1 is the centre of its prior, its MACE summary.
    workers = ["a", "a", "a", "b", "b", "b", "b"]
    items = [1, 2, 3, 1, 2, 4, 5]
    labels = [0, 0, 1, 0, 0, 1, 1]
    gold = {1: 0, 2: 0, 3: 0, 4: 1, 5: 1}
    result = agg.dawid_skene(workers, items, labels, gold=gold, classes=[0, 1])
    conf = result.worker_confusion
    assert conf is not None
    row = conf[0, 1]  # worker "a", true class 1
    # MACE's form: the right label gets trust + (1 - trust) * habit, the other (1 - trust) * habit.
    trust_plus_habit, other = row[1], row[0]
    assert 0 < other < trust_plus_habit < 1
    assert row.sum() == pytest.approx(1.0)
    # Its row for class 0, where it has 3 answers (2 right, 1 wrong), follows its counts.
    assert conf[0, 0, 0] > conf[0, 0, 1] > 0


def test_the_structured_prior_has_the_form_of_mace() -> None:
    trust = np.array([0.8, 0.1])
    habits = np.array([[0.5, 0.5], [0.9, 0.1]])
    conf = trust_confusion(trust, habits)
    assert np.allclose(conf[0], [[0.9, 0.1], [0.1, 0.9]])
    assert np.allclose(conf[1], [[0.91, 0.09], [0.81, 0.19]])


def test_dawid_skene_rejects_a_non_positive_prior() -> None:
    with pytest.raises(ValueError, match="positive"):
        agg.dawid_skene(["a"], [1], ["x"], prior_strength=0.0)


@pytest.mark.parametrize("seed", range(40))
def test_glad_m_step_never_lowers_its_objective(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 300))
    obs = prepare(rng.integers(0, 12, n), rng.integers(0, 40, n), rng.integers(0, 3, n))
    right = rng.random(len(obs.w))
    alpha = rng.normal(1.0, 2.0, obs.n_workers)
    log_beta = rng.normal(0.0, 1.5, obs.n_items)
    a_prior, b_prior = (1.0, float(rng.uniform(0.1, 4))), (0.0, float(rng.uniform(0.1, 4)))

    def objective(a: np.ndarray, lb: np.ndarray) -> float:
        x = a[obs.w] * np.exp(lb[obs.i])
        fit = -(right * np.logaddexp(0, -x) + (1 - right) * np.logaddexp(0, x)).sum()
        penalty = ((a - 1.0) ** 2).sum() / (2 * a_prior[1]) + (lb**2).sum() / (2 * b_prior[1])
        return float(fit - penalty)

    new_alpha, new_log_beta = _m_step(obs, right, alpha, log_beta, a_prior, b_prior)
    assert objective(new_alpha, new_log_beta) >= objective(alpha, log_beta) - 1e-9


def test_glad_finds_the_items_that_are_hard() -> None:
    rng = np.random.default_rng(4)
    n_items, per_item, n_workers = 300, 7, 12
    alpha = rng.uniform(1.0, 2.5, n_workers)
    beta = np.where(np.arange(n_items) % 3 == 0, 0.15, 3.0)  # every third item is hard
    truth = rng.integers(0, 2, n_items)
    workers = np.concatenate([rng.choice(n_workers, per_item, replace=False) for _ in truth])
    items = np.repeat(np.arange(n_items), per_item)
    right = rng.random(len(items)) < 1 / (1 + np.exp(-alpha[workers] * beta[items]))
    labels = np.where(right, truth[items], 1 - truth[items])
    fit = fit_glad(
        prepare(workers, items, labels),
        max_iter=500,
        tol=1e-6,
        alpha_prior=(1.0, 1.0),
        log_beta_prior=(0.0, 1.0),
    )
    hard = np.arange(n_items) % 3 == 0
    assert np.median(fit.beta[hard]) < np.median(fit.beta[~hard])
    easy_right = (fit.posteriors.argmax(axis=1) == truth)[~hard].mean()
    assert easy_right > 0.95
