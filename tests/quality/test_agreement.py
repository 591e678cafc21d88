from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expertloop.quality._common import QualityInputError
from expertloop.quality.agreement import (
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    percent_agreement,
)

GOLDEN = json.loads((Path(__file__).parent / "golden" / "agreement_literature.json").read_text())
LEVELS = ["nominal", "ordinal", "interval", "ratio"]


def _long(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    workers, units = np.nonzero(~np.isnan(matrix))
    return workers, units, matrix[workers, units]


def _matrix(rows: list[list[float | None]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_reproduces_krippendorffs_own_worked_example(level: str) -> None:
    case = GOLDEN["krippendorff_2011"]
    w, u, v = _long(_matrix(case["reliability_data"]))
    got = krippendorff_alpha(w, u, v, level=level)
    assert round(got, case["decimals"]) == case["alpha"][level]


@pytest.mark.parametrize("level", ["nominal", "interval"])
def test_alpha_reproduces_the_three_coder_example(level: str) -> None:
    case = GOLDEN["krippendorff_3x15"]
    w, u, v = _long(_matrix(case["reliability_data"]))
    got = krippendorff_alpha(w, u, v, level=level)
    assert round(got, case["decimals"]) == case["alpha"][level]


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_matches_the_krippendorff_package_on_random_data(level: str) -> None:
    rng = np.random.default_rng(42)
    for _ in range(60):
        n_raters, n_units, n_values = rng.integers(2, 7), rng.integers(2, 40), rng.integers(2, 7)
        data = rng.integers(0, n_values, (n_raters, n_units)).astype(float) * 1.5 + 1.0
        data[rng.random(data.shape) < 0.3] = np.nan
        try:
            expected = float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
        except ValueError:
            continue
        if not np.isfinite(expected):
            continue
        w, u, v = _long(data)
        assert krippendorff_alpha(w, u, v, level=level) == pytest.approx(expected, abs=1e-9)


def test_alpha_accepts_string_workers_items_and_labels() -> None:
    w, u, v = _long(_matrix(GOLDEN["krippendorff_3x15"]["reliability_data"]))
    labels = np.array(["low", "mid", "high", "top"])[v.astype(int) - 1]
    got = krippendorff_alpha([f"w{x}" for x in w], [f"u{x}" for x in u], labels)
    assert round(got, 6) == 0.691358


def test_alpha_ignores_units_with_a_single_value_and_missing_values() -> None:
    w, u, v = _long(_matrix(GOLDEN["krippendorff_2011"]["reliability_data"]))
    base = krippendorff_alpha(w, u, v, level="interval")
    w2 = np.concatenate([w, [0, 1, 2]])
    u2 = np.concatenate([u, [99, 100, 100]])
    v2 = np.concatenate([v, [7.0, np.nan, 3.0]])
    assert krippendorff_alpha(w2, u2, v2, level="interval") == pytest.approx(base, abs=1e-12)
    values = [None if x == 5 else x for x in v.tolist()]
    assert np.isfinite(krippendorff_alpha(w, u, values))


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_alpha_does_not_depend_on_row_order_or_id_names(rnd: object) -> None:
    w, u, v = _long(_matrix(GOLDEN["krippendorff_2011"]["reliability_data"]))
    order = np.arange(len(w))
    rnd.shuffle(order)
    for level in LEVELS:
        base = krippendorff_alpha(w, u, v, level=level)
        permuted = krippendorff_alpha(
            [f"r{x}" for x in w[order]], [f"item-{x}" for x in u[order]], v[order], level=level
        )
        assert permuted == pytest.approx(base, abs=1e-12)


def test_alpha_is_one_for_perfect_agreement_and_near_zero_for_random_answers() -> None:
    units = np.repeat(np.arange(200), 3)
    workers = np.tile(np.arange(3), 200)
    truth = np.repeat(np.random.default_rng(0).integers(0, 4, 200), 3)
    assert krippendorff_alpha(workers, units, truth) == pytest.approx(1.0)
    noise = np.random.default_rng(1).integers(0, 4, 600)
    assert abs(krippendorff_alpha(workers, units, noise)) < 0.05


def test_alpha_raises_a_clear_error_when_it_is_undefined() -> None:
    with pytest.raises(QualityInputError, match="empty"):
        krippendorff_alpha([], [], [])
    with pytest.raises(QualityInputError, match="two or more values"):
        krippendorff_alpha([1, 2], ["a", "b"], [1, 2])
    with pytest.raises(QualityInputError, match="undefined"):
        krippendorff_alpha([1, 2], ["a", "a"], [3, 3])
    with pytest.raises(QualityInputError, match="more than once"):
        krippendorff_alpha([1, 1, 2], ["a", "a", "a"], [1, 2, 1])
    with pytest.raises(QualityInputError, match="level"):
        krippendorff_alpha([1, 2], ["a", "a"], [1, 2], level="cardinal")
    with pytest.raises(QualityInputError, match="numeric"):
        krippendorff_alpha([1, 2], ["a", "a"], ["x", "y"], level="interval")


def _fleiss_long(counts: list[list[int]]) -> tuple[list[int], list[int]]:
    items, values = [], []
    for i, row in enumerate(counts):
        for category, n in enumerate(row):
            items += [i] * n
            values += [category] * n
    return items, values


def test_fleiss_kappa_reproduces_the_textbook_example() -> None:
    case = GOLDEN["fleiss_1971"]
    items, values = _fleiss_long(case["counts"])
    assert round(fleiss_kappa(items, values), case["decimals"]) == case["kappa"]


def test_fleiss_kappa_leaves_out_items_rated_once_and_missing_ratings() -> None:
    items, values = _fleiss_long(GOLDEN["fleiss_1971"]["counts"])
    base = fleiss_kappa(items, values)
    got = fleiss_kappa([*items, "lonely", "x"], [*values, 3, None])
    assert got == pytest.approx(base, abs=1e-12)


def test_fleiss_kappa_raises_when_every_rating_is_the_same() -> None:
    with pytest.raises(QualityInputError, match="undefined"):
        fleiss_kappa([1, 1, 2, 2], ["a", "a", "a", "a"])


def test_percent_agreement_is_the_share_of_agreeing_pairs_averaged_over_items() -> None:
    # item x: pairs (a,a) (a,b) (a,b) -> 1/3; item y: (c,c) -> 1; item z has one rating.
    got = percent_agreement(
        [1, 2, 3, 1, 2, 1], ["x", "x", "x", "y", "y", "z"], ["a", "a", "b", "c", "c", "d"]
    )
    assert got == pytest.approx((1 / 3 + 1) / 2)


def test_cohen_kappa_reproduces_the_two_by_two_textbook_example() -> None:
    case = GOLDEN["cohen_2x2"]
    a: list[str] = []
    b: list[str] = []
    for x, y, n in case["cells"]:
        a += [x] * n
        b += [y] * n
    assert cohen_kappa(a, b) == pytest.approx(case["kappa"])


@pytest.mark.parametrize("weights", ["none", "linear", "quadratic"])
def test_weighted_cohen_kappa_matches_a_hand_computed_case(weights: str) -> None:
    case = GOLDEN["cohen_weighted_hand"]
    w = None if weights == "none" else weights
    assert cohen_kappa(case["a"], case["b"], weights=w) == pytest.approx(case["kappa"][weights])


def test_cohen_kappa_drops_items_missing_either_rating() -> None:
    assert cohen_kappa([0, 1, 2, None, 1], [0, 2, 2, 1, np.nan]) == pytest.approx(0.5)


def test_cohen_kappa_is_symmetric_and_one_for_identical_raters() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 4, 100), rng.integers(0, 4, 100)
    for weights in (None, "linear", "quadratic"):
        assert cohen_kappa(a, b, weights=weights) == pytest.approx(
            cohen_kappa(b, a, weights=weights)
        )
        assert cohen_kappa(a, a, weights=weights) == pytest.approx(1.0)


def test_cohen_kappa_raises_when_chance_agreement_is_total() -> None:
    with pytest.raises(QualityInputError, match="undefined"):
        cohen_kappa(["a", "a"], ["a", "a"])
    with pytest.raises(QualityInputError, match="equal lengths"):
        cohen_kappa(["a"], ["a", "b"])
