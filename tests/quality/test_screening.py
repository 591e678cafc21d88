"""The screening statistics: examples in the docstrings, MinHash estimates Jaccard, the
binomial bound holds its error rate on honest workers."""

from __future__ import annotations

import doctest

import numpy as np

from expertloop.quality import screening


def test_the_docstring_examples_hold() -> None:
    assert doctest.testmod(screening).failed == 0


def test_minhash_agreement_estimates_the_jaccard_similarity_of_shingle_sets() -> None:
    rng = np.random.default_rng(3)
    words = [f"w{n}" for n in range(400)]
    base = " ".join(rng.choice(words, 120))
    edited = base.replace("w1", "zz9").replace("w2", "qq8")
    sigs, sets = screening.minhash_signatures([base, edited], num_perm=256)
    exact = len(sets[0] & sets[1]) / len(sets[0] | sets[1])
    estimate = float(np.mean(sigs[0] == sigs[1]))
    assert abs(estimate - exact) < 0.1


def test_near_duplicates_never_pair_texts_below_the_threshold() -> None:
    texts = [f"An answer about case {n} that discusses point {n * 7} at some length here."
             for n in range(30)]
    pairs = screening.near_duplicate_pairs(texts, threshold=0.9)
    assert all(p.similarity >= 0.9 for p in pairs)


def test_straight_lining_flags_no_honest_worker_in_many_random_projects() -> None:
    rng = np.random.default_rng(4)
    flagged = 0
    for _ in range(50):
        workers = np.repeat(np.arange(30), 40)
        choices = rng.integers(0, 2, len(workers))
        result = screening.straight_lining_screen(workers, choices, n_options=2, alpha=0.05)
        flagged += int(result.straight.any())
    assert flagged <= 5  # at most alpha of the projects (+ slack), here usually 0


def test_gold_screen_on_no_evidence_is_empty_not_an_error() -> None:
    result = screening.gold_accuracy_screen([], [], threshold=0.6, min_answers=5)
    assert len(result.worker_ids) == 0
