"""krippendorff_alpha_interval: the point estimate, and a bootstrap over units whose
replicates are exactly alpha on the resampled units."""

from __future__ import annotations

import numpy as np
import pytest

from expertloop.quality import QualityInputError, krippendorff_alpha, krippendorff_alpha_interval


def _ratings(n_units: int, *, accuracy: float, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n_units)
    items = np.repeat(np.arange(n_units), 3)
    workers = np.tile([0, 1, 2], n_units)
    right = rng.random(3 * n_units) < accuracy
    values = np.where(right, np.repeat(truth, 3), rng.integers(0, 3, 3 * n_units))
    return workers, items, values


@pytest.mark.parametrize("level", ["nominal", "interval"])
def test_the_point_estimate_is_krippendorffs_alpha(level: str) -> None:
    workers, items, values = _ratings(300, accuracy=0.7, seed=1)
    result = krippendorff_alpha_interval(workers, items, values, level=level, n_boot=50)
    assert result.alpha == pytest.approx(krippendorff_alpha(workers, items, values, level=level))
    assert result.low <= result.alpha <= result.high
    assert result.n_units == 300
    assert result.n_defined == 50


@pytest.mark.parametrize("level", ["nominal", "interval"])
def test_each_replicate_is_alpha_of_the_units_drawn_with_replacement(level: str) -> None:
    # Units 0..39 have two or three values; one unit with a single value is not pairable.
    workers, items, values = _ratings(40, accuracy=0.6, seed=3)
    keep = ~((items == 5) & (workers == 2))
    workers, items, values = workers[keep], items[keep], values[keep]
    workers = np.append(workers, 0)
    items = np.append(items, 99)
    values = np.append(values, 1)
    result = krippendorff_alpha_interval(
        workers, items, values, level=level, n_boot=1, seed=np.random.default_rng(11)
    )
    drawn = np.random.default_rng(11).integers(0, 40, 40)  # pairable units, in sorted order
    rows_w, rows_i, rows_v = [], [], []
    for copy, unit in enumerate(drawn):
        at = items == unit
        rows_w += workers[at].tolist()
        rows_i += [copy] * int(at.sum())
        rows_v += values[at].tolist()
    expected = krippendorff_alpha(rows_w, rows_i, rows_v, level=level)
    assert result.low == pytest.approx(expected)
    assert result.high == pytest.approx(expected)


def test_the_interval_narrows_as_units_grow_and_is_reproducible() -> None:
    small = krippendorff_alpha_interval(*_ratings(60, accuracy=0.7, seed=2), n_boot=300)
    large = krippendorff_alpha_interval(*_ratings(3000, accuracy=0.7, seed=2), n_boot=300)
    assert large.high - large.low < (small.high - small.low) / 3
    again = krippendorff_alpha_interval(*_ratings(60, accuracy=0.7, seed=2), n_boot=300)
    assert (again.low, again.high) == (small.low, small.high)


def test_perfect_agreement_has_a_degenerate_interval_at_one() -> None:
    workers = [0, 1] * 6
    items = np.repeat(np.arange(6), 2)
    values = np.repeat(["a", "b", "c", "a", "b", "c"], 2)
    result = krippendorff_alpha_interval(workers, items, values, n_boot=100)
    assert result.alpha == 1.0
    defined = result.n_defined
    assert 0 < defined <= 100  # a draw of one kind of unit only leaves alpha undefined
    assert result.low == result.high == 1.0


@pytest.mark.parametrize(
    "kwargs", [{"level": "ordinal"}, {"n_boot": 0}, {"confidence": 1.0}]
)
def test_bad_arguments_are_refused(kwargs: dict) -> None:
    with pytest.raises(QualityInputError):
        krippendorff_alpha_interval([0, 1], [1, 1], [1, 2], **kwargs)
