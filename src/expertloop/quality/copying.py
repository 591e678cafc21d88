"""Copied categorical answers: a worker whose labels match another worker's far more often
than the model of independent workers predicts.

Text copies are found by their text (:func:`~expertloop.quality.screening.near_duplicate_pairs`);
a class label has no text, and a worker who copies a good worker's labels is as accurate as
the original, so accuracy-based screens (gold, spammer score) cannot see them. What gives a
copier away is that they share the original's *mistakes* too.

The test (a posterior-predictive check of one worker against another). Dawid-Skene
(:func:`~expertloop.quality.dawid_skene`) models workers as answering independently given
the item's true class. Take a pair where ``b`` answered after ``a`` on most of their shared
items. Fit the model *without* ``b`` (a copier and its source would otherwise look perfect
to it, each vouching for the other), and fit ``b``'s confusion ``pi_b`` by EM against the
posteriors it gives, as any worker's is. Under the model, on each shared item ``b`` gives
``a``'s label ``x_i`` with probability

    ``p_i = sum_c P(z_i = c | every answer but b's) * pi_b[c, x_i]``

and the number of agreements is a sum of independent Bernoulli(``p_i``) draws, whose upper
tail is bounded by Chernoff's bound (exact, ``prod p_i``, when ``b`` agreed on every shared
item, as a copier does). The posterior includes ``a``'s answer: two honest experts agree
because both are right, which the model predicts; a copier also shares ``a``'s mistakes
against the rest of the crowd, which it does not.

A refit per pair would be too slow for every pair, so every pair is first screened by a
cheap version of the same test (both workers divided out of one fit's posteriors, their
confusions re-estimated against what is left), judged against the empirical null of all
the pairs (:func:`_against_empirical_null`: hard items make honest workers agree a little
more than the model says, all of them); the most suspicious are then confirmed as above,
with a Bonferroni bound over the pairs with ``min_shared`` items in common. A copier
distorts the fit for everyone else, so copiers are peeled off one at a time, refitting
without each one found.

Measured on the simulators of :mod:`expertloop.quality.simulation` (seven regimes, 12 seeds
each; ``tests/quality/test_copying.py`` checks a subset): one honest worker flagged in the
84 data sets (nominally at most 1% of projects), and a copier of a median worker caught in
57 of 84 (most misses copy a worker with few answers, or are in the few-answers regime,
2-3 answers per item). Limits: a copier of a near-perfect worker looks like a second
near-perfect worker (and does little harm beyond double counting); copying a few answers
among many is below the test's power.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.integers(0, 2, 200)
    >>> ws, its, ls = [], [], []
    >>> for w in range(8):
    ...     for i in range(200):
    ...         ws.append(w); its.append(i)
    ...         ls.append(int(truth[i]) if rng.random() < 0.75 else int(1 - truth[i]))
    >>> ws += [99] * 200; its += list(range(200)); ls += ls[:200]  # worker 99 copies worker 0
    >>> s = copied_labels_screen(ws, its, ls, list(range(len(ws))), n_classes=2)
    >>> [(p.copier, p.source) for p in s.pairs]
    [(99, 0)]
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import brentq
from scipy.stats import norm

from expertloop.quality._common import QualityInputError

__all__ = ["CopiedPair", "CopyScreen", "agreement_tail_bound", "copied_labels_screen"]

_TINY = 1e-300


@dataclass(frozen=True)
class CopiedPair:
    """A flagged pair: ``copier`` answered after ``source`` on most of their ``shared``
    items and gave the same label on ``agreements`` of them, where independent workers
    would agree on ``expected``; ``p_value`` bounds the chance of that many under
    independence."""

    copier: Hashable
    source: Hashable
    shared: int
    agreements: int
    expected: float
    p_value: float


@dataclass(frozen=True)
class CopyScreen:
    """The flagged pairs (most significant first), how many pairs were tested, and the
    threshold each was held to (``alpha / n_tested``)."""

    pairs: list[CopiedPair]
    n_tested: int
    alpha_each: float


def agreement_tail_bound(p: Sequence[float] | NDArray[np.float64], observed: int) -> float:
    """An upper bound on ``P(sum of Bernoulli(p_i) >= observed)`` (Chernoff): the infimum
    over ``t > 0`` of ``exp(-t * observed) * prod(1 - p_i + p_i e^t)``. Exact
    (``prod p_i``) when ``observed`` is the number of trials; 1 at or below the mean.

    Example:
        >>> round(agreement_tail_bound([0.5] * 10, 10), 6)
        0.000977
    """
    probs = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    n = len(probs)
    if observed > n:
        return 0.0
    if observed <= probs.sum():
        return 1.0
    if observed == n:
        return float(np.exp(np.log(np.maximum(probs, _TINY)).sum()))

    def slope(t: float) -> float:  # derivative of the log bound; increasing in t
        e = np.exp(t)
        return float((probs * e / (1.0 - probs + probs * e)).sum()) - observed

    hi = 1.0
    while slope(hi) < 0:
        hi *= 2.0
        if hi > 700:  # exp overflows; the bound is already astronomically small
            break
    t = brentq(slope, 0.0, hi) if slope(hi) >= 0 else hi
    log_bound = -t * observed + float(np.log1p(probs * np.expm1(t)).sum())
    return float(min(1.0, np.exp(log_bound)))


def copied_labels_screen(
    workers: Sequence[Hashable],
    items: Sequence[Hashable],
    labels: Sequence[int],
    order: Sequence[int],
    *,
    n_classes: int,
    alpha: float = 0.01,
    min_shared: int = 20,
    max_rounds: int = 20,
    seed: int | np.random.Generator | None = None,
) -> CopyScreen:
    """Pairs of workers where the later one copies the earlier one's labels.

    ``workers``, ``items``, ``labels`` (class codes ``0..n_classes-1``) and ``order`` (when
    each answer was given, e.g. answer ids) are one row per answer. A worker's repeated
    answer to an item counts once (the first).

    Each round fits the model, screens every pair, confirms the most suspicious against a
    refit without the suspected copier (the module's docstring has the test), sets the
    first confirmed copier aside and starts again, until nothing is confirmed (at most
    ``max_rounds`` rounds). ``CopiedPair.p_value`` is the confirmation's bound.
    """
    from expertloop.quality.aggregation import dawid_skene

    n = len(workers)
    if not (len(items) == len(labels) == len(order) == n):
        raise QualityInputError("workers, items, labels and order must have the same length")
    if not 0 < alpha < 1:
        raise QualityInputError("alpha must be between 0 and 1")
    if n_classes < 2:
        raise QualityInputError("n_classes must be at least 2")
    answers = _first_answers(workers, items, labels, order, n_classes)
    removed: set[int] = set()
    tried: set[tuple[Hashable, Hashable]] = set()
    found: list[CopiedPair] = []
    n_tested = 0
    for _ in range(max_rounds):
        kept = ~np.isin(answers.worker, list(removed))
        if not kept.any():
            break
        fit = dawid_skene(
            answers.worker[kept], answers.item[kept], answers.label[kept],
            classes=list(range(n_classes)), seed=seed,
        )
        assert fit.worker_confusion is not None
        raw = _pair_tests(answers, kept, fit.worker_ids, fit.item_ids, fit.posteriors,
                          fit.worker_confusion, min_shared)
        n_tested = max(n_tested, len(raw))
        if not raw:
            break
        # Screen every pair, then confirm the most suspicious ones, in order, each against
        # a model fitted without the suspected copier.
        threshold = alpha / len(raw)
        confirmed = None
        for candidate in sorted(_against_empirical_null(raw), key=lambda t: t.p_value):
            if candidate.p_value > threshold or len(tried) >= _MAX_CONFIRMATIONS:
                break
            if (candidate.copier, candidate.source) in tried:
                continue
            tried.add((candidate.copier, candidate.source))
            check = _confirm(answers, kept, candidate, n_classes, seed)
            if check is not None and check.p_value <= threshold:
                confirmed = check
                break
        if confirmed is None:
            break
        found.append(confirmed)
        removed.add(int(confirmed.copier))  # type: ignore[call-overload]
    names = answers.names
    pairs = [
        CopiedPair(names[int(p.copier)], names[int(p.source)],  # type: ignore[call-overload]
                   p.shared, p.agreements, p.expected, p.p_value)
        for p in found
    ]
    return CopyScreen(pairs, n_tested, alpha / max(n_tested, 1))


@dataclass(frozen=True)
class _Answers:
    worker: NDArray[np.intp]
    item: NDArray[np.intp]
    label: NDArray[np.intp]
    when: NDArray[np.int64]
    names: list[Hashable]


def _first_answers(
    workers: Sequence[Hashable], items: Sequence[Hashable], labels: Sequence[int],
    order: Sequence[int], n_classes: int,
) -> _Answers:
    names: dict[Hashable, int] = {}
    item_codes: dict[Hashable, int] = {}
    w = np.fromiter((names.setdefault(x, len(names)) for x in workers), dtype=np.intp,
                    count=len(workers))
    it = np.fromiter((item_codes.setdefault(x, len(item_codes)) for x in items),
                     dtype=np.intp, count=len(items))
    lab = np.asarray(labels, dtype=np.intp)
    if len(lab) and (lab.min() < 0 or lab.max() >= n_classes):
        raise QualityInputError(f"labels must be class codes in 0..{n_classes - 1}")
    when = np.asarray(order, dtype=np.int64)
    first = np.lexsort((when, it, w))
    keep = np.ones(len(w), dtype=bool)
    keep[first[1:]] = (w[first[1:]] != w[first[:-1]]) | (it[first[1:]] != it[first[:-1]])
    rows = np.sort(first[keep[first]])
    return _Answers(w[rows], it[rows], lab[rows], when[rows], list(names))


def _pair_tests(
    answers: _Answers,
    kept: NDArray[np.bool_],
    fit_workers: NDArray[Any],
    fit_items: NDArray[Any],
    posteriors: NDArray[np.float64],
    confusion: NDArray[np.float64],
    min_shared: int,
) -> list[_PairTest]:
    """Every pair with ``min_shared`` items in common, tested in the direction of time."""
    w_pos = {int(x): i for i, x in enumerate(fit_workers.tolist())}
    i_pos = {int(x): i for i, x in enumerate(fit_items.tolist())}
    w = np.fromiter((w_pos[int(x)] for x in answers.worker[kept]), dtype=np.intp)
    it = np.fromiter((i_pos[int(x)] for x in answers.item[kept]), dtype=np.intp)
    lab, when = answers.label[kept], answers.when[kept]
    n_workers, n_items = len(fit_workers), len(fit_items)
    incidence = sparse.csr_matrix((np.ones(len(w)), (w, it)), shape=(n_workers, n_items))
    overlap = sparse.triu(incidence @ incidence.T, k=1).tocoo()
    chosen = overlap.data >= min_shared
    # Each worker's answers sorted by item, for intersections.
    by = np.lexsort((it, w))
    starts = np.searchsorted(w[by], np.arange(n_workers + 1))
    rows = [by[starts[i]:starts[i + 1]] for i in range(n_workers)]
    tests = []
    for a, b in zip(overlap.row[chosen].tolist(), overlap.col[chosen].tolist(), strict=True):
        _, ia, ib = np.intersect1d(it[rows[a]], it[rows[b]], assume_unique=True,
                                   return_indices=True)
        ra, rb = rows[a][ia], rows[b][ib]
        if 2 * int((when[rb] > when[ra]).sum()) < len(ra):
            a, b, ra, rb, ia, ib = b, a, rb, ra, ib, ia
        la, lb = lab[ra], lab[rb]
        shared_a, shared_b = np.zeros(len(rows[a]), bool), np.zeros(len(rows[b]), bool)
        shared_a[ia], shared_b[ib] = True, True
        # Each worker's confusion re-estimated from all their answers against posteriors
        # that leave the other one out, so their agreement does not vouch for itself.
        theta_a = _confusion_without(a, b, rows[a], shared_a, rows, it, lab, posteriors,
                                     confusion)
        theta_b = _confusion_without(b, a, rows[b], shared_b, rows, it, lab, posteriors,
                                     confusion)
        rest = _posterior_without(posteriors[it[ra]], confusion[a][:, la].T,
                                  confusion[b][:, lb].T)
        # P(b gives a's label | a's label, everyone else's answers), item by item.
        joint = rest * theta_a[:, la].T
        p = (joint * theta_b[:, la].T).sum(axis=1) / joint.sum(axis=1)
        agree = int((la == lb).sum())
        spread = float(np.sqrt(max((p * (1 - p)).sum(), _TINY)))
        tests.append(_PairTest(
            CopiedPair(int(fit_workers[b]), int(fit_workers[a]), len(ra), agree,
                       round(float(p.sum()), 2), agreement_tail_bound(p, agree)),
            (agree - float(p.sum())) / spread,
        ))
    return tests


_MAX_CONFIRMATIONS = 10
_EM_STEPS = 50


def _confirm(
    answers: _Answers, kept: NDArray[np.bool_], suspect: CopiedPair, n_classes: int,
    seed: int | np.random.Generator | None,
) -> CopiedPair | None:
    """The suspect pair tested against Dawid-Skene fitted *without* the suspected copier:
    the item posteriors then come from everyone else (the source included, as an ordinary
    worker), and the copier's own confusion is fitted by EM against them, as any worker's
    is. Under the model, the copier's answers are independent of the source's given the
    class; the chance of giving the source's label on each shared item is
    ``sum_c P(z = c | everyone else) pi_copier[c, source's label]``."""
    from expertloop.quality.aggregation import dawid_skene

    copier, source = int(suspect.copier), int(suspect.source)  # type: ignore[call-overload]
    others = kept & (answers.worker != copier)
    fit = dawid_skene(answers.worker[others], answers.item[others], answers.label[others],
                      classes=list(range(n_classes)), seed=seed)
    position = {int(x): i for i, x in enumerate(fit.item_ids.tolist())}
    mine = kept & (answers.worker == copier)
    my_items = answers.item[mine]
    known = np.array([int(x) in position for x in my_items.tolist()], dtype=bool)
    my_items, my_labels = my_items[known], answers.label[mine][known]
    if not len(my_items):
        return None
    rest = fit.posteriors[[position[int(x)] for x in my_items.tolist()]]
    theta = _shrunk_confusion(np.eye(n_classes))
    for _ in range(_EM_STEPS):
        post = rest * theta[:, my_labels].T
        post /= post.sum(axis=1, keepdims=True)
        updated = _shrunk_confusion(_soft_counts(post, my_labels, n_classes))
        if np.allclose(updated, theta, atol=1e-9):
            break
        theta = updated
    theirs = kept & (answers.worker == source)
    source_label = dict(zip(answers.item[theirs].tolist(), answers.label[theirs].tolist(),
                            strict=True))
    on_shared = np.array([int(x) in source_label for x in my_items.tolist()], dtype=bool)
    if not on_shared.any():
        return None
    la = np.array([source_label[int(x)] for x in my_items[on_shared].tolist()], dtype=np.intp)
    p = (rest[on_shared] * theta[:, la].T).sum(axis=1)
    agree = int((my_labels[on_shared] == la).sum())
    return CopiedPair(copier, source, int(on_shared.sum()), agree, round(float(p.sum()), 2),
                      agreement_tail_bound(p, agree))


@dataclass(frozen=True)
class _PairTest:
    pair: CopiedPair
    z: float  # (agreements - expected) / sd under the model


_MIN_PAIRS_FOR_EMPIRICAL_NULL = 10


def _against_empirical_null(tests: list[_PairTest]) -> list[CopiedPair]:
    """Each pair's p-value judged against how all the pairs behave (Efron's empirical
    null, "Large-scale simultaneous hypothesis testing", JASA 2004).

    Real answers are not independent given the class (a hard item misleads several honest
    workers the same way), so honest pairs agree somewhat more than the model says, all
    of them. Most pairs are honest: the median and the MAD of their z-scores estimate that
    shift and spread, and a pair is judged by how far it stands out from them. The
    correction only ever makes the test stricter (shift >= 0, spread >= 1), and needs
    ``_MIN_PAIRS_FOR_EMPIRICAL_NULL`` pairs to estimate anything.
    """
    shift, spread = 0.0, 1.0
    if len(tests) >= _MIN_PAIRS_FOR_EMPIRICAL_NULL:
        z = np.array([t.z for t in tests])
        median = float(np.median(z))
        shift = max(0.0, median)
        spread = max(1.0, 1.4826 * float(np.median(np.abs(z - median))))
    out = []
    for t in tests:
        z_exact = float(norm.isf(max(t.pair.p_value, _TINY)))
        p = float(norm.sf((z_exact - shift) / spread)) if t.pair.p_value < 1 else 1.0
        out.append(replace(t.pair, p_value=p))
    return out


def _posterior_without(
    posterior: NDArray[np.float64], *likelihoods: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Item posteriors with some answers' likelihoods (rows: items, columns: classes)
    divided out: exact in a model where answers are independent given the class."""
    rest = posterior.copy()
    for likelihood in likelihoods:
        rest /= np.maximum(likelihood, _TINY)
    rest /= rest.sum(axis=1, keepdims=True)
    return rest


def _confusion_without(
    worker: int, other: int, own_rows: NDArray[np.intp], shared: NDArray[np.bool_],
    rows: list[NDArray[np.intp]], it: NDArray[np.intp], lab: NDArray[np.intp],
    posteriors: NDArray[np.float64], confusion: NDArray[np.float64],
) -> NDArray[np.float64]:
    """A worker's confusion from all their answers (``own_rows``), against each item's
    posterior given every answer but theirs and ``other``'s, shrunk by
    :func:`_shrunk_confusion`. Against a noisy posterior this understates a good worker
    (the screen's empirical null and the confirmation by :func:`_confirm` make up for
    it)."""
    labels = lab[own_rows]
    rest = posteriors[it[own_rows]] / np.maximum(confusion[worker][:, labels].T, _TINY)
    if shared.any():
        other_labels = _labels_on(rows[other], it, lab, it[own_rows][shared])
        rest[shared] /= np.maximum(confusion[other][:, other_labels].T, _TINY)
    rest /= rest.sum(axis=1, keepdims=True)
    return _shrunk_confusion(_soft_counts(rest, labels, confusion.shape[1]))


def _soft_counts(posterior: NDArray[np.float64], labels: NDArray[np.intp],
                 k: int) -> NDArray[np.float64]:
    """Expected counts: row ``c``, column ``x``: answers ``x`` on items of class ``c``."""
    counts = np.zeros((k, k))
    for x in range(k):
        counts[:, x] = posterior[labels == x].sum(axis=0)
    return counts


_PRIOR_ANSWERS_PER_ROW = 2.0


def _shrunk_confusion(counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """A confusion matrix from expected counts, each row shrunk toward the worker's one-coin
    summary (their pooled accuracy ``t`` on the diagonal, ``(1 - t) / (K - 1)`` elsewhere)
    with ``_PRIOR_ANSWERS_PER_ROW`` pseudo-answers. With many classes and few answers per
    class, a flat prior would make every good worker look poor (and every pair of good
    workers look like copiers); the pooled accuracy is estimable from few answers."""
    k = counts.shape[0]
    t = (float(np.trace(counts)) + 1.0) / (float(counts.sum()) + 2.0)
    prior = np.full((k, k), (1.0 - t) / (k - 1))
    np.fill_diagonal(prior, t)
    shrunk = counts + _PRIOR_ANSWERS_PER_ROW * prior
    return shrunk / shrunk.sum(axis=1, keepdims=True)


def _labels_on(worker_rows: NDArray[np.intp], it: NDArray[np.intp], lab: NDArray[np.intp],
               items: NDArray[np.intp]) -> NDArray[np.intp]:
    """A worker's labels on ``items`` (all of which they answered; their rows are sorted
    by item)."""
    return lab[worker_rows[np.searchsorted(it[worker_rows], items)]]
