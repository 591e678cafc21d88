"""The choice of ``auto`` by gold labels (``expertloop.quality._gold_select``)."""

from __future__ import annotations

import numpy as np
import pytest

from crowd_sim import fake_fitter as fake
from crowd_sim import simulate
from expertloop.quality import _gold_select, _select
from expertloop.quality import aggregation as agg
from expertloop.quality._agg_common import Observations, prepare


def biased_workers() -> np.ndarray:
    honest = np.eye(3) * 0.75 + 0.25 / 3
    biased = np.array([[0.9, 0.1, 0.0], [0.3, 0.7, 0.0], [0.1, 0.2, 0.7]])
    spammer = np.tile([0.8, 0.1, 0.1], (3, 1))
    return np.stack([honest, honest, honest, biased, biased, spammer])


def crowd(n_gold: int, seed: int = 11) -> tuple[Observations, np.ndarray]:
    workers, items, labels, truth = simulate(biased_workers(), n_items=120, per_item=4, seed=seed)
    gold = {int(i): int(truth[i]) for i in range(n_gold)}
    return prepare(workers, items, labels, gold=gold), truth


def wrong_model_predicts_answers_best(monkeypatch: pytest.MonkeyPatch) -> None:
    # "dawid_skene" predicts the answers best, but its labels are the majority's mirror image:
    # the answer-based rule takes it, the gold shows its labels are wrong.
    for name in _select.CANDIDATES:
        monkeypatch.setitem(_select._FITTERS, name, fake("majority", confidence=0.5))
    monkeypatch.setitem(_select._FITTERS, "dawid_skene", fake("wrong", confidence=0.75))


def test_with_enough_gold_auto_leaves_a_model_whose_labels_the_gold_refutes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong_model_predicts_answers_best(monkeypatch)
    obs, _ = crowd(n_gold=30)
    without = _select.choose_models(obs, n_repeats=1, use_gold=False)
    assert without.chosen == ("dawid_skene",)
    assert not without.gold_log_score
    with_gold = _select.choose_models(obs, n_repeats=1)
    assert with_gold.by_gold
    assert with_gold.chosen != ("dawid_skene",)
    assert with_gold.chosen[0] in _select.CANDIDATES
    assert set(with_gold.gold_log_score) == set(_select.active_fitters())
    best = max(with_gold.gold_accuracy.values())
    assert with_gold.gold_accuracy[with_gold.chosen[0]] == best
    assert with_gold.gold_accuracy["dawid_skene"] < best
    # The answer-based scores are those of the rule without gold.
    assert with_gold.log_likelihood == without.log_likelihood


def test_too_little_gold_leaves_the_answer_based_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong_model_predicts_answers_best(monkeypatch)
    obs, _ = crowd(n_gold=_gold_select.MIN_GOLD - 1)
    assert not _gold_select.enough_gold(obs)
    selection = _select.choose_models(obs, n_repeats=1)
    assert selection == _select.choose_models(obs, n_repeats=1, use_gold=False)
    assert selection.chosen == ("dawid_skene",)
    assert not selection.by_gold


def test_without_gold_auto_gives_the_same_labels_as_the_answer_based_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workers, items, labels, _ = simulate(biased_workers(), n_items=60, per_item=4, seed=3)
    default = agg.aggregate(workers, items, labels, seed=2)
    monkeypatch.setattr(_select, "GOLD_CHOICE", False)
    answer_based = agg.aggregate(workers, items, labels, seed=2)
    assert default.method == answer_based.method
    assert default.labels.tolist() == answer_based.labels.tolist()


def test_each_fold_hides_its_own_gold_and_anchors_the_rest() -> None:
    obs, _ = crowd(n_gold=25)
    seen: list[set[int]] = []

    def record(train: Observations) -> _select.CandidateFit:
        seen.append(set(train.gold_items.tolist()))
        return _select._majority(train)

    scores = _gold_select.gold_scores(obs, {"mv": record}, n_folds=5, seed=0)
    gold = set(obs.gold_items.tolist())
    hidden = [gold - s for s in seen]
    assert len(seen) == 5
    assert all(len(h) == 5 for h in hidden)
    assert set().union(*hidden) == gold  # every gold item is scored once, unclamped
    assert np.all(scores.log_score["mv"] < 0)  # a clamped item would score log 1 = 0
    assert scores.hits["mv"].shape == (25,)


def test_the_gold_overrules_only_by_more_than_one_standard_error() -> None:
    rng = np.random.default_rng(0)
    base = np.log(rng.uniform(0.3, 0.9, 40))
    noise = rng.normal(0, 0.3, 40)
    close = _gold_select.GoldScores(
        {"a": base, "b": base + noise - noise.mean() + 0.2 * noise.std() / np.sqrt(40)},
        {"a": np.ones(40), "b": np.ones(40)},
    )
    assert _gold_select.gold_choice(close, {"a": 1.0}) is None
    far = _gold_select.GoldScores(
        {"a": base, "b": base + noise - noise.mean() + 2.0 * noise.std() / np.sqrt(40)},
        close.hits,
    )
    assert _gold_select.gold_choice(far, {"a": 1.0}) == "b"
    assert _gold_select.gold_choice(far, {"b": 1.0}) is None
    # A stacked answer-based choice is scored as its mixture.
    assert _gold_select.gold_choice(far, {"a": 0.5, "b": 0.5}) in (None, "b")
