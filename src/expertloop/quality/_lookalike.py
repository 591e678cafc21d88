"""Lookalike Dawid-Skene: class-conditional worker confusions plus items that pull every
worker toward the same wrong class.

Model: item ``i`` has a hidden class ``z_i`` and a hidden *appearance* ``d_i``: either clear
(``d_i = z_i``) or a lookalike of another class ``d_i != z_i``. ``P(z, d) = T[z, d]``: the
class shares and one lookalike rate per class are learned, the class a lookalike resembles
is spread evenly over the others. On a clear item worker ``w`` answers from row ``z_i`` of
its confusion matrix ``pi_w`` (Dawid & Skene 1979, rows shrunk toward the worker's MACE
summary with a strength learned per class as in :mod:`expertloop.quality._hds`, or a fixed
one); on a lookalike each answer is pulled to ``d_i`` with probability ``lam`` (one for the
crowd, learned, at most 1/2) whatever the worker's skill, and otherwise drawn from row
``z_i`` as usual. This is the generative model of :mod:`expertloop.quality._sim_correlated`
(a distractor class per hard item, a shared pull): errors many workers share on an item are
explained by the item, not by each worker's confusion, so they do not bend the rows.

Fitting: EM over the ``K * K`` joint states of every item. The E-step's log-likelihood of
state ``(z, d)`` is Dawid-Skene's ``sum_j log pi_{w_j}[z, l_j]`` plus, for a lookalike,
``n_i log(1 - lam)`` and ``log(1 + lam / ((1 - lam) pi))`` for each answer equal to ``d``;
the M-step counts each answer in its worker's confusion with the probability that it was not
pulled. Deterministic. One fit on ``zheng_d_product`` (25k answers) takes 0.58 s against
0.11-0.14 s for Dawid-Skene and its hierarchical form.

Why the lookalike's direction is not learned per pair of classes and the pull is capped: a
free ``T`` let the fit explain the shared confusions between two breeds of ``zheng_s_dog``
as lookalikes in one direction and move labels with them (78.56% against 83.64% with the
even spread; majority vote 81.78%), the same drift as a class-biased model's; above a pull
of 1/2 most of a lookalike's answers name the class it looks like, the states ``(z, d)``
and ``(d, z)`` differ only in which minority the model believes, and the fit swaps classes
where the crowd is simply wrong (50.9% against majority vote's 71.5% on one
``item_difficulty`` crowd of :mod:`expertloop.quality.simulation`, 61.5% capped).

What it gives (``bench/quality_generalisation.py``, ``lookalike_candidate``): on 16 crowds of
:mod:`~expertloop.quality._sim_correlated` it is 0.80 points more accurate than the best of
the nine other candidates on average, and as a candidate of ``auto`` lifts it from 0.11 points
below that best to 0.30 above (taken on 6), never below majority vote; on 64 crowds of
:mod:`~expertloop.quality.simulation` it is 1.79 points below the best of the others and
``auto`` takes it on 8 without changing its mean (0.79 to 0.80 points below). On the real sets it
is the best model on ``zheng_d_duck`` (94.44% against 89.81% for the best other) and a
candidate would take ``auto`` there; but it also wins the held-out log-likelihood where items
are ambiguous without labelling them better (``zheng_s_face``: 60.62% against majority
vote's 63.01%, where ``auto`` otherwise gets 65.07%), and it does not help
``act_zencrowd_all`` (79.66%; majority vote 83.82%): fitted with every gold label it explains
the answers worse (-0.495 nats per answer) than its own fit without (-0.482), so the
likelihood still prefers the wrong explanation there. So it is not a candidate by default
(``expertloop.quality._select.LOOKALIKE_CANDIDATE``); ``dawid_skene(lookalike=True)`` fits it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from expertloop.quality._agg_common import (
    FloatArray,
    IntArray,
    Observations,
    log_likelihood_change,
    majority_posteriors,
    normalise_log_rows,
    not_converged,
)
from expertloop.quality._ds import (
    confusion_counts,
    ds_log_posteriors,
    structured_confusion,
    trust_and_habits,
    trust_confusion,
)
from expertloop.quality._hds import STRENGTH_GRID, evidence_strength

# Below this change of log-likelihood per answer, the learned strengths stop moving.
_FREEZE = 1e-4

# The pull is kept inside this range. At 0 a lookalike is a clear item; above 1/2 most of a
# lookalike's answers name the class it looks like, so the states (z, d) and (d, z) differ only
# in which minority the model believes, and the fit swaps classes on items where the crowd is
# simply wrong (uncapped, 50.9% against majority vote's 71.5% on one ``item_difficulty``
# crowd of :mod:`expertloop.quality.simulation`, 61.5% capped). No real data set's fit
# reached the cap but ``zheng_d_product`` (labels unchanged).
_PULL_RANGE = (0.05, 0.5)
# The pull EM starts from.
_START_PULL = 0.25


@dataclass(frozen=True)
class LookalikeFit:
    posteriors: FloatArray  # (I, K): P(z_i = k | answers)
    states: FloatArray  # (I, K, K): P(z_i = z, d_i = d | answers); d == z is "clear"
    prior: FloatArray  # (K,): P(z), the table's row sums
    confusion: FloatArray
    table: FloatArray  # (K, K): P(z, d)
    pull: float
    n_iter: int
    log_likelihood: float


def _unpulled_counts(
    obs: Observations, states: FloatArray, conf: FloatArray, pull: float
) -> tuple[FloatArray, float, float]:
    """Expected confusion counts of the answers that were not pulled; the expected number
    of pulled answers, and of answers on lookalike items."""
    k, n = obs.n_classes, len(obs.w)
    i, w, lab = obs.i, obs.w, obs.l
    pi = conf[w, :, lab]  # (n, K): pi_w[z, l]
    kept = (1 - pull) * pi / ((1 - pull) * pi + pull)  # P(not pulled | state (z, l), answer)
    on_item = states[i]  # (n, K, K)
    toward_own = on_item[np.arange(n), :, lab]  # (n, K): P(z, d = l)
    toward_own = np.where(np.arange(k)[None, :] == lab[:, None], 0.0, toward_own)
    mass_z = on_item.sum(axis=2) - toward_own * (1 - kept)  # (n, K)
    counts = np.empty((obs.n_workers, k, k))
    for z in range(k):
        counts[:, z, :] = np.bincount(
            w * k + lab, weights=mass_z[:, z], minlength=obs.n_workers * k
        ).reshape(obs.n_workers, k)
    pulled = float((toward_own * (1 - kept)).sum())
    lookalike = states.sum(axis=(1, 2)) - np.einsum("izz->i", states)
    exposed = float((lookalike * np.bincount(i, minlength=obs.n_items)).sum())
    return counts, pulled, exposed


def state_log_likelihood(obs: Observations, conf: FloatArray, pull: float) -> FloatArray:
    """``(I, K, K)``: ``log P(answers_i | z, d)`` (without the table)."""
    k, i, lab = obs.n_classes, obs.i, obs.l
    base = ds_log_posteriors(obs, np.log(conf), np.zeros(k))  # (I, K)
    pi = conf[obs.w, :, lab]
    bonus = np.log1p(pull / ((1 - pull) * pi))  # (n, K): an answer equal to the pull's class
    n_i = np.bincount(i, minlength=obs.n_items).astype(np.float64)
    out = np.empty((obs.n_items, k, k))
    for z in range(k):
        toward = np.bincount(i * k + lab, weights=bonus[:, z], minlength=obs.n_items * k)
        out[:, z, :] = base[:, z, None] + (np.log1p(-pull) * n_i)[:, None]
        out[:, z, :] += toward.reshape(obs.n_items, k)
        out[:, z, z] = base[:, z]
    return out


def _clamp_gold(obs: Observations, states: FloatArray) -> None:
    if len(obs.gold_items):
        keep = np.zeros((len(obs.gold_items), obs.n_classes))
        keep[np.arange(len(obs.gold_items)), obs.gold_classes] = 1.0
        rows = states[obs.gold_items] * keep[:, :, None]
        states[obs.gold_items] = rows / np.maximum(rows.sum(axis=(1, 2), keepdims=True), 1e-300)


def _state_table(states: FloatArray, pseudo: float) -> FloatArray:
    """``T[z, d]``: each class's share and lookalike rate from the expected state counts
    (``pseudo`` pseudo-items per class, spread over its states), the lookalike's class
    spread evenly over the other classes."""
    k = states.shape[1]
    counts = states.sum(axis=0) + pseudo / k
    clear = np.diag(counts).copy()
    table = np.repeat(((counts.sum(axis=1) - clear) / (k - 1))[:, None], k, axis=1)
    np.fill_diagonal(table, clear)
    return np.asarray(table / table.sum())


def fit_lookalike_ds(
    obs: Observations,
    *,
    max_iter: int,
    tol: float,
    strength: float | None = None,
    pseudo: float = 1.0,
    pull: float = _START_PULL,
) -> LookalikeFit:
    """EM for the lookalike Dawid-Skene model of this module's docstring, from majority vote.

    ``strength``: the confusion rows' pseudo-answers per cell toward each worker's MACE
    summary, as in Dawid-Skene; ``None`` (the default) learns it per class by empirical Bayes
    as the hierarchical Dawid-Skene does (:mod:`expertloop.quality._hds`), so the worker
    model spans the one-coin and the full-confusion cases. ``pseudo``: pseudo-items per
    class in the state table, spread evenly over the class's ``K`` states.
    """
    k = obs.n_classes
    states = majority_posteriors(obs)[:, :, None] * np.eye(k)[None, :, :]
    trust = np.full(obs.n_workers, 0.5)
    habits = np.full((obs.n_workers, k), 1.0 / k)
    conf: FloatArray | None = None
    learned = np.full(k, float(STRENGTH_GRID[len(STRENGTH_GRID) // 2]))
    delta, log_lik, frozen = np.inf, -np.inf, False
    for it in range(1, max_iter + 1):
        if conf is None:
            counts = confusion_counts(obs, states.sum(axis=2))
        else:
            counts, pulled, exposed = _unpulled_counts(obs, states, conf, pull)
            pull = float(np.clip((pulled + 1.0) / (exposed + 2.0), *_PULL_RANGE))
        trust, habits = trust_and_habits(counts, trust, habits)
        if strength is None:
            mean = trust_confusion(trust, habits)
            frozen = frozen or delta < _FREEZE
            if not frozen:
                learned = evidence_strength(counts, mean, STRENGTH_GRID)
            num = counts + learned[None, :, None] * mean
            conf = num / num.sum(axis=2, keepdims=True)
        else:
            conf = structured_confusion(counts, trust, habits, strength)
        table = _state_table(states, pseudo)
        joint = state_log_likelihood(obs, conf, pull) + np.log(table)[None, :, :]
        flat, log_norm = normalise_log_rows(joint.reshape(obs.n_items, k * k))
        states = flat.reshape(obs.n_items, k, k)
        _clamp_gold(obs, states)
        previous, log_lik = log_lik, float(log_norm.sum())
        delta = log_likelihood_change(previous, log_lik, len(obs.w))
        if delta < tol:
            post = np.ascontiguousarray(states.sum(axis=2))
            return LookalikeFit(post, states, table.sum(axis=1), conf, table, pull, it, log_lik)
    raise not_converged("lookalike_dawid_skene", max_iter, delta, tol)


def answer_probability(fit: LookalikeFit, i: IntArray, w: IntArray, lab: IntArray) -> FloatArray:
    """``P(answer lab of worker w on item i | the item's state posterior)``."""
    k, n = fit.states.shape[1], len(i)
    on_item = fit.states[i]
    pi = fit.confusion[w, :, lab]  # (n, K)
    clear = np.einsum("nzz->nz", on_item)
    lookalike = on_item.sum(axis=2) - clear
    toward = on_item[np.arange(n), :, lab]
    toward = np.where(np.arange(k)[None, :] == lab[:, None], 0.0, toward)
    p = (clear * pi).sum(axis=1) + ((1 - fit.pull) * lookalike * pi).sum(axis=1)
    return np.asarray(p + fit.pull * toward.sum(axis=1))


def class_answer_probability(
    fit: LookalikeFit, i: IntArray, w: IntArray, lab: IntArray
) -> FloatArray:
    """``P(answer lab of worker w on item i | the item's class posterior)``: the appearance
    marginalised by its prior ``T[z, d] / p_z`` rather than by the item's own posterior, so
    that only the item's class carries information from its other answers, as in every
    other model ``auto`` compares (see :mod:`expertloop.quality._select`)."""
    k, n = fit.states.shape[1], len(i)
    given = fit.table / fit.table.sum(axis=1, keepdims=True)  # P(d | z)
    clear = np.diag(given)[None, :]  # (1, K)
    pi = fit.confusion[w, :, lab]  # (n, K)
    toward = given[:, lab].T  # (n, K): P(d = lab | z)
    toward = np.where(np.arange(k)[None, :] == lab[:, None], 0.0, toward)
    p_given_z = clear * pi + (1 - clear) * (1 - fit.pull) * pi + fit.pull * toward
    return np.asarray((fit.posteriors[i] * p_given_z).sum(axis=1)) if n else np.zeros(0)
