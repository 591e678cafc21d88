"""Each worker rule flags what it is for, says why with numbers, and leaves honest work be."""

from __future__ import annotations

import numpy as np
import pytest

from expertloop.domain import WorkerRule
from expertloop.domain.worker_rules import (
    ChoiceEvidence,
    Evidence,
    GoldEvidence,
    LabelEvidence,
    TelemetryEvidence,
    TextEvidence,
    WorkerRules,
    evaluate_rules,
    too_fast_finding,
)


def _rules_only(rule: WorkerRule) -> WorkerRules:
    """Every rule off but ``rule``."""
    data = {r.value: {"enabled": r is rule} for r in WorkerRule}
    return WorkerRules.model_validate(data)


def _crowd(n_items: int, honest: int, seed: int = 0) -> tuple[list, list, list, list]:
    """Honest workers (90% right) over 3 classes, plus worker 99 answering uniformly."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n_items)
    workers, items, labels = [], [], []
    for item in range(n_items):
        for w in range(honest):
            right = rng.random() < 0.9
            workers.append(w)
            items.append(item)
            labels.append(int(truth[item]) if right else int((truth[item] + 1) % 3))
        workers.append(99)
        items.append(item)
        labels.append(int(rng.integers(0, 3)))
    return workers, items, labels, truth.tolist()


def test_gold_accuracy_flags_a_worker_confidently_below_the_threshold_with_the_interval() -> None:
    workers = ["good"] * 20 + ["bad"] * 20
    correct = [True] * 18 + [False] * 2 + [True] * 5 + [False] * 15
    evidence = Evidence(gold=GoldEvidence(workers, correct, list(range(40))))
    found = evaluate_rules(evidence, _rules_only(WorkerRule.GOLD_ACCURACY))
    assert [(f.worker, f.rule) for f in found] == [("bad", WorkerRule.GOLD_ACCURACY)]
    f = found[0]
    assert f.pause
    assert f.details["gold_answers"] == 20
    assert f.details["upper"] < 0.6
    assert f.message.startswith("gold accuracy 0.27 (95% interval 0.11-0.47) after 20 gold")
    assert "threshold 0.6" in f.message


def test_gold_accuracy_waits_for_the_minimum_number_of_gold_answers() -> None:
    evidence = Evidence(gold=GoldEvidence(["w"] * 9, [False] * 9, list(range(9))))
    assert evaluate_rules(evidence, _rules_only(WorkerRule.GOLD_ACCURACY)) == []


def test_the_spammer_score_flags_a_worker_answering_independently_of_the_truth() -> None:
    workers, items, labels, _ = _crowd(60, honest=4)
    evidence = Evidence(
        labels=LabelEvidence(workers, items, labels, list(range(len(workers))), n_classes=3)
    )
    found = evaluate_rules(evidence, _rules_only(WorkerRule.SPAMMER_SCORE))
    assert [f.worker for f in found] == [99]
    assert found[0].details["score"] < 0.05
    assert "spammer score" in found[0].message


def test_straight_lining_on_positions_flags_always_first_and_not_a_mild_preference() -> None:
    rng = np.random.default_rng(1)
    workers, choices = [], []
    for _ in range(40):
        workers += ["lazy", "mild", "fair"]
        choices += ["first", "first" if rng.random() < 0.6 else "second",
                    "first" if rng.random() < 0.5 else "second"]
    evidence = Evidence(choices=[ChoiceEvidence(workers, choices, list(range(len(workers))),
                                                n_options=2, by_position=True)])
    found = evaluate_rules(evidence, _rules_only(WorkerRule.STRAIGHT_LINING))
    assert [f.worker for f in found] == ["lazy"]
    assert found[0].details["by"] == "position"
    assert found[0].details["share"] == 1.0
    assert "p = " in found[0].message


def test_straight_lining_on_choices_measures_chance_by_the_other_workers_answers() -> None:
    # "no" is the common answer: a worker who says "no" 90% of the time is like the crowd;
    # one who always says the rare "maybe" is not.
    workers, choices = [], []
    rng = np.random.default_rng(2)
    for _ in range(60):
        for w in range(5):
            workers.append(w)
            choices.append("no" if rng.random() < 0.9 else "yes")
        workers.append("odd")
        choices.append("maybe")
    evidence = Evidence(choices=[ChoiceEvidence(workers, choices, list(range(len(workers))),
                                                n_options=3, by_position=False)])
    found = evaluate_rules(evidence, _rules_only(WorkerRule.STRAIGHT_LINING))
    assert [f.worker for f in found] == ["odd"]
    assert found[0].details["by"] == "choice"


_TEXT = "The second response cites the statute correctly and explains the exception well."


def test_near_duplicates_flag_text_copied_from_another_worker_and_reused_across_items() -> None:
    texts = [
        _TEXT, _TEXT + "!", _TEXT.upper(), _TEXT + " Indeed.",  # copier copies the author
        "An original thought about the first response, which misreads the question.",
        "Another original note: both responses omit the limitation period entirely.",
        "A third note: the first response is concise but the second is more complete.",
    ]
    workers = ["author", "copier", "copier", "copier", "other", "other", "other"]
    items = [1, 1, 2, 3, 1, 2, 3]
    evidence = Evidence(texts=TextEvidence(workers, items, texts, list(range(1, 8))))
    found = evaluate_rules(evidence, _rules_only(WorkerRule.NEAR_DUPLICATE))
    assert [f.worker for f in found] == ["copier"]
    details = found[0].details
    assert details["answers"] == 3
    assert details["copied_from_others"] + details["reused_across_items"] == 3
    assert details["examples"][0]["similarity"] >= 0.8


def test_pasted_text_flags_a_worker_whose_answers_were_mostly_pasted() -> None:
    workers = ["paster"] * 6 + ["typist"] * 6
    typed = [2] * 6 + [200] * 6
    pasted = [300] * 6 + [10] * 6
    evidence = Evidence(telemetry=TelemetryEvidence(workers, typed, pasted, list(range(12))))
    found = evaluate_rules(evidence, _rules_only(WorkerRule.PASTED_TEXT))
    assert [f.worker for f in found] == ["paster"]
    assert found[0].details["mostly_pasted"] == 6


def test_too_fast_pauses_only_once_the_count_reaches_pause_after() -> None:
    rules = WorkerRules.model_validate({"too_fast": {"min_seconds": 5, "pause": True,
                                                     "pause_after": 3}})
    early = too_fast_finding("w", fast_answers=2, last_ms=800, rule=rules.too_fast)
    due = too_fast_finding("w", fast_answers=3, last_ms=800, rule=rules.too_fast)
    assert not early.pause
    assert due.pause
    assert "3 answers faster than the project's minimum of 5 s" in due.message


def test_a_rule_looks_only_at_answers_after_its_last_resolution() -> None:
    workers = ["bad"] * 20
    evidence = Evidence(
        gold=GoldEvidence(workers, [False] * 20, list(range(1, 21))),
        since={("bad", WorkerRule.GOLD_ACCURACY): 15},
    )
    assert evaluate_rules(evidence, _rules_only(WorkerRule.GOLD_ACCURACY)) == []


def test_a_disabled_rule_finds_nothing() -> None:
    evidence = Evidence(gold=GoldEvidence(["bad"] * 20, [False] * 20, list(range(20))))
    rules = WorkerRules.model_validate({"gold_accuracy": {"enabled": False}})
    assert evaluate_rules(evidence, rules) == []


def test_rules_refuse_unknown_fields_and_out_of_range_thresholds() -> None:
    with pytest.raises(ValueError, match="threshold"):
        WorkerRules.model_validate({"gold_accuracy": {"threshold": 1.5}})
    with pytest.raises(ValueError, match="speling"):
        WorkerRules.model_validate({"speling": {}})


def test_the_embeddings_method_catches_paraphrases_that_minhash_misses() -> None:
    texts = [
        "The second answer is right because the statute allows an exception for minors.",
        "Answer two is correct: the law makes an exception when the person is under age.",
        "Response B is the accurate one; minors fall under the statute's exemption clause.",
        "The reply that comes second is right, since under-age people are exempt by law.",
    ]
    workers = ["author", "para", "para", "para"]
    # Stand-in embeddings: the four sentences mean the same, so their vectors nearly agree.
    vectors = [[1.0, 0.02 * k, 0.0] for k in range(4)]
    evidence = Evidence(texts=TextEvidence(workers, [1, 2, 3, 4], texts, [1, 2, 3, 4],
                                           vectors=vectors))
    minhash = evaluate_rules(evidence, _rules_only(WorkerRule.NEAR_DUPLICATE))
    assert minhash == []
    rules = _rules_only(WorkerRule.NEAR_DUPLICATE)
    rules.near_duplicate.method = "embeddings"
    found = evaluate_rules(evidence, rules)
    assert [f.worker for f in found] == ["para"]
    assert found[0].details["method"] == "embeddings (cosine)"


def test_copied_labels_flags_the_worker_who_copies_another_and_names_the_original() -> None:
    workers, items, labels, _ = _crowd(80, honest=5, seed=4)
    honest = [k for k, w in enumerate(workers) if w != 99]
    workers, items, labels = ([workers[k] for k in honest], [items[k] for k in honest],
                              [labels[k] for k in honest])
    copied = [k for k, w in enumerate(workers) if w == 2]
    workers += ["copycat"] * len(copied)
    items += [items[k] for k in copied]
    labels += [labels[k] for k in copied]
    ids = list(range(len(workers)))
    evidence = Evidence(labels=LabelEvidence(workers, items, labels, ids, n_classes=3))
    found = evaluate_rules(evidence, _rules_only(WorkerRule.COPIED_LABELS))
    assert [(f.worker, f.rule) for f in found] == [("copycat", WorkerRule.COPIED_LABELS)]
    f = found[0]
    assert f.pause
    assert f.details["like_worker"] == 2
    assert f.details["agreements"] == f.details["shared_items"] == 80
    assert "same answer as an earlier worker on 80 of 80 shared items" in f.message
    # Reinstated after their last answer: the old answers no longer count against them.
    since = {("copycat", WorkerRule.COPIED_LABELS): ids[-1]}
    evidence.since = since
    assert evaluate_rules(evidence, _rules_only(WorkerRule.COPIED_LABELS)) == []
