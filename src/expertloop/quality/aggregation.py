"""Label aggregation (truth inference): from many workers' labels to one label per item.

Every function takes three parallel 1-D array-likes — ``workers``, ``items``, ``labels`` — with
one entry per answer (ids and labels may be any hashable values), and keyword-only options:

- ``gold``: a mapping ``item -> known label``. Those items' posteriors are clamped to the
  known label throughout the fit, so they anchor the worker parameters.
- ``classes``: every class, so that classes nobody used still get a column.
- ``max_iter`` and ``tol`` for the iterative models: EM stops once the log-likelihood per
  answer changes by less than ``tol`` between iterations, and raises
  :class:`~expertloop.quality.ConvergenceError` if that has not happened after ``max_iter``
  iterations, rather than return a half-fitted estimate.

Each returns an :class:`AggregationResult`. All models are deterministic: the EM fits start
from the majority vote, and a near-tie (posteriors within 1e-9) goes to the first class in
sorted order. Each accepts ``seed`` like :func:`aggregate`, so callers can treat them alike; it
is ignored where nothing is drawn at random (every model here but ``aggregate``'s choice).
Each EM step is a few sparse matrix products and ``np.bincount`` calls.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from expertloop.quality._agg_common import (
    AggregationResult,
    FloatArray,
    Observations,
    agreement_skill,
    build_result,
    check_iteration_options,
    class_prior,
    majority_posteriors,
    prepare,
)
from expertloop.quality._cbcc import CommunityFit, fit_community_ds
from expertloop.quality._common import ConvergenceError, QualityInputError
from expertloop.quality._ds import (
    DS_PRIOR_STRENGTH,
    DSFit,
    confusion_counts,
    fit_dawid_skene,
    fit_one_coin,
    one_coin_confusion,
    structured_confusion,
    trust_and_habits,
)
from expertloop.quality._glad import fit_glad
from expertloop.quality._hds import HDSFit, fit_hierarchical_ds
from expertloop.quality._lookalike import LookalikeFit, fit_lookalike_ds
from expertloop.quality._mace import fit_mace
from expertloop.quality._select import CANDIDATES, MAJORITY, choose_models, majority_model

__all__ = [
    "AggregationResult",
    "aggregate",
    "dawid_skene",
    "glad",
    "mace",
    "majority_vote",
    "one_coin_dawid_skene",
    "weighted_majority_vote",
]

Values = ArrayLike | Iterable[Any]


def majority_vote(
    workers: Values,
    items: Values,
    labels: Values,
    *,
    gold: Mapping[Any, Any] | None = None,
    classes: Sequence[Hashable] | None = None,
    seed: int | np.random.Generator | None = None,
) -> AggregationResult:
    """Each item gets the label most of its answers gave.

    The posteriors are the shares of the votes; a tie goes to the first class in sorted order.
    ``worker_skill`` is the share of a worker's answers that agree with the consensus
    (Beta-smoothed toward the mean).

    >>> r = majority_vote(["a", "b", "c"], [1, 1, 1], ["cat", "cat", "dog"])
    >>> r.labels.tolist(), r.posteriors.round(2).tolist()
    (['cat'], [[0.67, 0.33]])
    """
    del seed  # deterministic: nothing is drawn at random
    obs = prepare(workers, items, labels, gold=gold, classes=classes)
    post = majority_posteriors(obs)
    return build_result(
        obs,
        post,
        worker_skill=agreement_skill(obs, post),
        worker_confusion=None,
        n_iter=0,
        method="majority_vote",
    )


def weighted_majority_vote(
    workers: Values,
    items: Values,
    labels: Values,
    *,
    weights: Mapping[Any, float] | ArrayLike,
    gold: Mapping[Any, Any] | None = None,
    classes: Sequence[Hashable] | None = None,
    seed: int | np.random.Generator | None = None,
) -> AggregationResult:
    """Each item gets the label with the largest sum of its workers' weights.

    ``weights`` is a mapping ``worker -> weight`` (workers missing from it weigh 0) or an array
    aligned with the sorted distinct workers (``result.worker_ids``). Weights must be finite
    and non-negative; an item whose workers all weigh 0 gets uniform posteriors. The given
    weights are returned as ``worker_skill``.

    >>> r = weighted_majority_vote(["a", "b", "c"], [1, 1, 1], [0, 0, 1],
    ...                            weights={"a": 1, "b": 1, "c": 3})
    >>> r.labels.tolist()
    [1]
    """
    del seed  # deterministic: nothing is drawn at random
    obs = prepare(workers, items, labels, gold=gold, classes=classes)
    w = _worker_weights(obs, weights)
    post = majority_posteriors(obs, w)
    return build_result(
        obs,
        post,
        worker_skill=w,
        worker_confusion=None,
        n_iter=0,
        method="weighted_majority_vote",
    )


def _worker_weights(obs: Observations, weights: Mapping[Any, float] | ArrayLike) -> FloatArray:
    if isinstance(weights, Mapping):
        w = np.array([float(weights.get(v, 0.0)) for v in obs.worker_ids.tolist()])
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (obs.n_workers,):
            raise QualityInputError(
                f"weights must have one entry per distinct worker ({obs.n_workers}), "
                f"got shape {w.shape}"
            )
        w = w.copy()
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise QualityInputError("weights must be finite and non-negative")
    return w


def dawid_skene(
    workers: Values,
    items: Values,
    labels: Values,
    *,
    gold: Mapping[Any, Any] | None = None,
    classes: Sequence[Hashable] | None = None,
    max_iter: int = 1000,
    tol: float = 1e-6,
    prior_strength: float | str = DS_PRIOR_STRENGTH,
    pseudo_count: float = 1.0,
    communities: int | None = None,
    lookalike: bool = False,
    seed: int | np.random.Generator | None = None,
) -> AggregationResult:
    """Dawid and Skene's confusion-matrix model, fitted by EM.

    Model (Dawid & Skene, "Maximum likelihood estimation of observer error-rates using the EM
    algorithm", Applied Statistics 28(1), 1979): item ``i`` has a hidden true class
    ``z_i ~ Categorical(p)``; worker ``w`` answers ``l`` with probability ``pi_w[z_i, l]``,
    independently of other answers. EM alternates the posteriors of ``z`` (E-step, in log space)
    and the parameters (M-step).

    Regularisation (this is what keeps it sound on sparse data): the M-step takes posterior
    means, not maximum likelihood. Class priors get ``pseudo_count`` per class. Each row of a
    worker's confusion matrix gets ``prior_strength`` pseudo-answers per cell, distributed like
    that worker's MACE summary ``t_w [l = k] + (1 - t_w) h_w[l]`` (Hovy et al., "Learning
    Whom to Trust with MACE", NAACL 2013): its trust ``t_w`` (how often it gives the true
    class) and habits ``h_w`` (which labels it gives otherwise), re-estimated at every M-step
    from the same expected counts, with MACE's priors. The two-parameter summary is estimable
    from a handful of answers; the full matrix is not. So a worker with few answers, or who
    never saw items of some class, is described by its summary where it has no evidence and by
    its own counts where it has plenty, and no probability is ever 0: no NaN, no division by
    zero. ``prior_strength=0.5`` is the weight of Jeffreys' prior for a row of K cells.

    ``prior_strength="evidence"`` makes the model hierarchical: the strength of each class's
    rows (the same for every worker) is learned by empirical Bayes, as the value that
    maximises the Dirichlet-multinomial evidence of the workers' expected counts. A crowd
    whose workers match their MACE summaries gets a strong prior (the fit tends to MACE), one
    whose workers' confusions really differ from them a weak one (the fit tends to the plain
    Dawid-Skene). ``result.method`` is then ``"hierarchical_dawid_skene"``.

    ``communities=M`` (with ``prior_strength="evidence"``) centres each worker's prior on the
    confusion matrix of its *community* instead (community-based BCC, Venanzi et al. 2014):
    the workers fall into ``M`` groups learned with everything else, each group's confusion
    is its members' pooled counts, and the strength is learned as above. Workers who share a
    class bias (strict judges, lenient ones) lend each other its full confusion, which a
    worker's own few answers cannot estimate. ``result.method`` is then
    ``"community_dawid_skene"``.

    ``lookalike=True`` adds *lookalike items*: an item
    may look like another class and pull each answer to that class with a probability
    learned for the crowd, whatever the worker's skill, so mistakes many workers share on the
    same item are explained by the item rather than by each worker's confusion
    (:mod:`expertloop.quality._lookalike`); with ``prior_strength="evidence"`` the rows'
    strength is learned as in the hierarchical form. ``result.method`` is then
    ``"lookalike_dawid_skene"``.

    ``worker_skill`` is the worker's chance of a right answer, ``sum_k p_k pi_w[k, k]``.

    >>> r = dawid_skene(["a", "b", "c", "a", "b", "c"], [1, 1, 1, 2, 2, 2],
    ...                 ["x", "x", "y", "y", "y", "y"])
    >>> r.labels.tolist()
    ['x', 'y']
    """
    del seed  # deterministic: nothing is drawn at random
    check_iteration_options(max_iter, tol)
    learned = prior_strength == "evidence"
    if isinstance(prior_strength, str) and not learned:
        raise QualityInputError(
            f"prior_strength must be a positive number or 'evidence', got {prior_strength!r}"
        )
    if (not learned and not float(prior_strength) > 0) or not pseudo_count > 0:
        raise QualityInputError("prior_strength and pseudo_count must be positive")
    if communities is not None and (
        not learned or int(communities) != communities or communities < 1
    ):
        raise QualityInputError(
            "communities must be a positive integer, with prior_strength='evidence'"
        )
    if lookalike and communities is not None:
        raise QualityInputError("lookalike=True does not take communities")
    obs = prepare(workers, items, labels, gold=gold, classes=classes)
    fit: DSFit | HDSFit | CommunityFit | LookalikeFit
    method = "dawid_skene"
    if lookalike:
        strength = None if learned else float(prior_strength)
        fit = fit_lookalike_ds(
            obs, max_iter=max_iter, tol=tol, strength=strength, pseudo=pseudo_count
        )
        method = "lookalike_dawid_skene"
    elif communities is not None:
        fit = fit_community_ds(
            obs, max_iter=max_iter, tol=tol, n_communities=int(communities), pseudo=pseudo_count
        )
        method = "community_dawid_skene"
    elif learned:
        fit = fit_hierarchical_ds(obs, max_iter=max_iter, tol=tol, pseudo=pseudo_count)
        method = "hierarchical_dawid_skene"
    else:
        fit = fit_dawid_skene(
            obs, max_iter=max_iter, tol=tol, strength=float(prior_strength), pseudo=pseudo_count
        )
    diag = np.einsum("wkk->wk", fit.confusion)
    return build_result(
        obs,
        fit.posteriors,
        worker_skill=diag @ fit.prior,
        worker_confusion=fit.confusion,
        n_iter=fit.n_iter,
        method=method,
    )


def one_coin_dawid_skene(
    workers: Values,
    items: Values,
    labels: Values,
    *,
    gold: Mapping[Any, Any] | None = None,
    classes: Sequence[Hashable] | None = None,
    max_iter: int = 1000,
    tol: float = 1e-6,
    prior_strength: float = 2.0,
    pseudo_count: float = 1.0,
    seed: int | np.random.Generator | None = None,
) -> AggregationResult:
    """The one-coin Dawid-Skene model: one accuracy per worker, errors spread evenly.

    Model (the "one-coin" special case of Dawid & Skene 1979, as used e.g. by Zhang et al.,
    "Spectral Methods meet EM", NIPS 2014): worker ``w`` gives the true class with probability
    ``a_w`` and each of the ``K - 1`` other classes with probability ``(1 - a_w) / (K - 1)``.
    Fitted by EM; each ``a_w`` is a Beta posterior mean shrunk toward the population accuracy
    with ``prior_strength`` pseudo-answers, so one-answer workers stay near the average.
    ``prior_strength=float("inf")`` gives every worker the same accuracy: the majority vote
    weighed by a fitted class prior (ties and near-ties go to the more common class).
    ``worker_skill`` is ``a_w``.

    >>> r = one_coin_dawid_skene(["a", "b", "c"], [1, 1, 1], ["x", "x", "y"])
    >>> r.labels.tolist()
    ['x']
    """
    del seed  # deterministic: nothing is drawn at random
    check_iteration_options(max_iter, tol)
    if not prior_strength > 0 or not pseudo_count > 0:
        raise QualityInputError("prior_strength and pseudo_count must be positive")
    obs = prepare(workers, items, labels, gold=gold, classes=classes)
    if obs.n_classes == 1:
        return _single_class(obs, "one_coin_dawid_skene")
    fit = fit_one_coin(
        obs, max_iter=max_iter, tol=tol, strength=prior_strength, pseudo=pseudo_count
    )
    return build_result(
        obs,
        fit.posteriors,
        worker_skill=fit.accuracy,
        worker_confusion=one_coin_confusion(fit.accuracy, obs.n_classes),
        n_iter=fit.n_iter,
        method="one_coin_dawid_skene",
    )


def glad(
    workers: Values,
    items: Values,
    labels: Values,
    *,
    gold: Mapping[Any, Any] | None = None,
    classes: Sequence[Hashable] | None = None,
    max_iter: int = 500,
    tol: float = 1e-6,
    alpha_prior: tuple[float, float] = (1.0, 1.0),
    log_beta_prior: tuple[float, float] = (0.0, 1.0),
    seed: int | np.random.Generator | None = None,
) -> AggregationResult:
    """GLAD: worker expertise times item easiness, fitted by EM.

    Model (Whitehill, Ruvolo, Wu, Bergsma & Movellan, "Whose Vote Should Count More: Optimal
    Integration of Labels from Labelers of Unknown Expertise", NIPS 2009): worker ``w`` has an
    expertise ``alpha_w`` (negative for adversarial workers) and item ``i`` an easiness
    ``beta_i > 0``; the answer is right with probability ``sigmoid(alpha_w * beta_i)``, and
    otherwise uniform over the ``K - 1`` wrong classes (the paper's multi-class extension).
    The E-step computes class posteriors in log space; the M-step maximises the expected
    complete-data log-likelihood plus Gaussian priors on ``alpha`` and ``log beta``
    (``(mean, variance)`` pairs): the objective separates by worker for fixed easiness and by
    item for fixed expertise, so each M-step is two rounds of vectorised Newton steps on all
    ``alpha`` then Fisher-scoring steps on all ``log beta`` (a generalised EM).
    ``worker_skill`` is ``alpha_w``.

    >>> r = glad(["a", "b", "c", "a", "b", "c"], [1, 1, 1, 2, 2, 2], [0, 0, 1, 1, 1, 1])
    >>> r.labels.tolist()
    [0, 1]
    """
    del seed  # deterministic: nothing is drawn at random
    check_iteration_options(max_iter, tol)
    obs = prepare(workers, items, labels, gold=gold, classes=classes)
    if obs.n_classes == 1:
        return _single_class(obs, "glad")
    fit = fit_glad(
        obs, max_iter=max_iter, tol=tol, alpha_prior=alpha_prior, log_beta_prior=log_beta_prior
    )
    return build_result(
        obs,
        fit.posteriors,
        worker_skill=fit.alpha,
        worker_confusion=None,
        n_iter=fit.n_iter,
        method="glad",
    )


def mace(
    workers: Values,
    items: Values,
    labels: Values,
    *,
    gold: Mapping[Any, Any] | None = None,
    classes: Sequence[Hashable] | None = None,
    max_iter: int = 1000,
    tol: float = 1e-6,
    trust_prior: tuple[float, float] = (0.5, 0.5),
    spam_prior: float = 1.0,
    fit_prior: bool = False,
    seed: int | np.random.Generator | None = None,
) -> AggregationResult:
    """MACE: each worker is either right or spamming from its own label distribution.

    Model (Hovy, Berg-Kirkpatrick, Vaswani & Hovy, "Learning Whom to Trust with MACE", NAACL
    2013): the true class ``z_i`` is uniform; worker ``w`` answers the truth with probability
    ``theta_w`` and otherwise spams, drawing a label from its own distribution ``xi_w``; so
    ``P(l | z) = theta_w [l = z] + (1 - theta_w) xi_w[l]``. Fitted by EM with a
    ``Beta(trust_prior)`` prior on ``theta_w`` and a symmetric ``Dirichlet(spam_prior)`` on
    ``xi_w`` (posterior means in the M-step). Start and priors are symmetric in the classes,
    so relabelling the classes only permutes the posteriors. ``worker_skill`` is ``theta_w``.

    >>> r = mace(["a", "b", "c", "a", "b", "c"], [1, 1, 1, 2, 2, 2], [0, 0, 1, 1, 1, 1])
    >>> r.labels.tolist()
    [0, 1]
    """
    del seed  # deterministic: nothing is drawn at random
    check_iteration_options(max_iter, tol)
    obs = prepare(workers, items, labels, gold=gold, classes=classes)
    fit = fit_mace(
        obs,
        max_iter=max_iter,
        tol=tol,
        trust_prior=trust_prior,
        spam_prior=spam_prior,
        fit_prior=fit_prior,
    )
    return build_result(
        obs,
        fit.posteriors,
        worker_skill=fit.theta,
        worker_confusion=fit.confusion,
        n_iter=fit.n_iter,
        method="mace",
    )


_METHODS: dict[str, Callable[..., AggregationResult]] = {
    "majority_vote": majority_vote,
    "weighted_majority_vote": weighted_majority_vote,
    "dawid_skene": dawid_skene,
    "one_coin_dawid_skene": one_coin_dawid_skene,
    "glad": glad,
    "mace": mace,
}


def aggregate(
    workers: Values,
    items: Values,
    labels: Values,
    *,
    method: str = "auto",
    gold: Mapping[Any, Any] | None = None,
    classes: Sequence[Hashable] | None = None,
    seed: int | np.random.Generator = 0,
    **options: Any,
) -> AggregationResult:
    """Aggregate labels with ``method``, or with the model the data support (``"auto"``).

    ``method`` is ``"auto"`` or the name of one of this module's aggregators; ``options`` go to
    that aggregator (e.g. ``max_iter``, ``weights``), or with ``"auto"`` to every model it fits
    on all answers.

    The ``"auto"`` rule:

    1. With a single class, or fewer than 2 answers per item on average, workers overlap too
       little for their reliability to be estimated: ``majority_vote``.
    2. Otherwise each candidate model (``majority_vote``; ``dawid_skene`` and its
       hierarchical form ``prior_strength="evidence"``; ``one_coin_dawid_skene`` and its
       shared form ``prior_strength=float("inf")``; ``glad``; ``mace`` with the paper's
       uniform class prior and with a fitted one) is scored by cross-validation: answers are
       split into 5 folds within each item, the model is fitted without a fold, and gives
       each held-out answer a probability. The folds are drawn three times; ``seed`` draws
       them.
    3. The candidate with the best held-out log-likelihood (a proper score of the whole
       worker model, class bias included, and a cross-validated estimate of its evidence) is
       fitted on all answers and returned (``result.method`` names it, e.g.
       ``"hierarchical_dawid_skene"``), unless it does not beat the held-out
       log-likelihood of the better of ``majority_vote`` and the shared one-coin model by
       more than one paired standard error (``_select.SIMPLE_Z``): then that one (a
       difference the folds cannot tell from noise does not pay for a parameter per
       worker).

    A second way to combine the candidates exists, **stacking** (Yao et al. 2018;
    ``expertloop.quality._select.COMBINE = "stacking"``): the weights of the mixture of the
    candidates' predictive distributions that gives the held-out answers the highest log
    score. The candidates with weight are fitted on all answers and pooled: the posteriors
    are the weighted mean of theirs, ``result.method`` is ``"stacking"``,
    ``result.components`` lists the models and their weights, and the worker confusions are
    Dawid-Skene's M-step on the pooled posteriors; a candidate that does not converge on all
    answers is left out and the others' weights renormalised. It is off: it came closer to
    the best single model on average, but fell further below majority vote where workers'
    errors are correlated on the same items (``bench/quality.py`` prints both).

    A guard that rejects a model whose held-out agreement is below majority vote's by more
    than ``guard_z`` standard errors exists
    (:func:`expertloop.quality._select.select`) but is off: choosing ``guard_z``
    leave-one-dataset-out and leave-one-scenario-out turned it off.

    With at least 20 answered gold items the gold may overrule that choice: every candidate
    is fitted with one of five folds of the gold hidden and scored by the log posterior of
    each hidden item's gold class; the best replaces the answer-based choice only if it beats
    it by more than one paired standard error over the gold items
    (:mod:`expertloop.quality._gold_select`). With less gold the gold is only an anchor, and
    every final fit clamps all gold items. Why these
    scores: :mod:`expertloop.quality._select` gives the reasoning and how the rule was
    checked (simulated crowds with known truth, and leave-one-dataset-out on real data, both
    printed by ``bench/quality.py``). Costs ``3 x 5 x 8`` fits on 80% of the answers more
    than one model; with enough gold, ``5 x 9`` fits on all answers more.

    >>> r = aggregate(["a", "b", "c"], [1, 2, 3], ["x", "y", "x"])  # one answer per item
    >>> r.method, r.labels.tolist()
    ('majority_vote', ['x', 'y', 'x'])
    """
    if method != "auto":
        if method not in _METHODS:
            raise QualityInputError(
                f"unknown method {method!r}; use 'auto' or one of {sorted(_METHODS)}"
            )
        return _METHODS[method](
            workers, items, labels, gold=gold, classes=classes, seed=seed, **options
        )
    obs = prepare(workers, items, labels, gold=gold, classes=classes)
    selection = choose_models(obs, seed=seed)
    fits: dict[str, AggregationResult] = {}
    for name in selection.chosen:
        try:
            fits[name] = _fit_candidate(
                name, workers, items, labels, gold=gold, classes=classes, seed=seed, **options
            )
        except ConvergenceError:
            if len(selection.chosen) == 1:
                raise
    if not fits:
        raise ConvergenceError(
            "no model aggregate(method='auto') stacked converged on all answers",
            n_iter=0,
            delta=float("inf"),
        )
    if len(fits) == 1:
        return next(iter(fits.values()))
    total = sum(selection.weights[n] for n in fits)
    weights = {n: selection.weights[n] / total for n in fits}
    return _pooled(obs, fits, weights)


def _fit_candidate(
    name: str,
    workers: Values,
    items: Values,
    labels: Values,
    *,
    gold: Mapping[Any, Any] | None,
    classes: Sequence[Hashable] | None,
    seed: int | np.random.Generator,
    **options: Any,
) -> AggregationResult:
    if name == MAJORITY:
        return majority_vote(workers, items, labels, gold=gold, classes=classes)
    public, defaults = CANDIDATES[name]
    fit = _METHODS[public](
        workers, items, labels, gold=gold, classes=classes, seed=seed, **{**defaults, **options}
    )
    # Name the candidate ("mace_fitted_prior"), not only the aggregator it runs.
    return replace(fit, method=name)


def _pooled(
    obs: Observations, fits: Mapping[str, AggregationResult], weights: Mapping[str, float]
) -> AggregationResult:
    """The stacked mixture: weighted mean posteriors and the worker model they imply."""
    post = np.zeros((obs.n_items, obs.n_classes))
    for name, fit in fits.items():
        # Majority vote enters as the model it is the estimate of (one shared accuracy).
        part = majority_model(obs)[0] if name == MAJORITY else np.asarray(fit.posteriors)
        post += weights[name] * part
    obs.clamp_gold(post)
    counts = confusion_counts(obs, post)
    k = obs.n_classes
    trust, habits = np.full(obs.n_workers, 0.5), np.full((obs.n_workers, k), 1.0 / k)
    for _ in range(_MACE_STEPS):
        trust, habits = trust_and_habits(counts, trust, habits)
    confusion = structured_confusion(counts, trust, habits, DS_PRIOR_STRENGTH)
    prior = class_prior(post)
    components = tuple(sorted(weights.items(), key=lambda kv: -kv[1]))
    result = build_result(
        obs,
        post,
        worker_skill=np.einsum("wkk->wk", confusion) @ prior,
        worker_confusion=confusion,
        n_iter=max(fit.n_iter for fit in fits.values()),
        method="stacking",
    )
    return replace(result, components=tuple((n, round(w, 6)) for n, w in components))


# Fixed-point steps of MACE's trust and habits on the pooled posteriors' expected counts.
_MACE_STEPS = 50


def _single_class(obs: Observations, method: str) -> AggregationResult:
    post = np.ones((obs.n_items, 1))
    return build_result(
        obs,
        post,
        worker_skill=np.ones(obs.n_workers),
        worker_confusion=np.ones((obs.n_workers, 1, 1)),
        n_iter=0,
        method=method,
    )
