"""Adaptive redundancy: how many answers an item needs, decided as its answers arrive.

Every item first gets ``min_answers`` answers. From then on, after each answer, the item's
*confidence* is the posterior probability of its most probable class given its answers
(with LLM judges' verdicts, that of the experts' own class given answers and verdicts:
:func:`item_confidence`); it stops collecting once that reaches ``target_confidence``, and
otherwise asks for one more answer, up to ``max_answers``. The live system
(``services/redundancy.py``) and the offline :func:`replay` call the same functions,
:func:`item_confidence` (:func:`item_posterior`) and :func:`item_target`
(:func:`next_target`, or one answer more for the items of the audit sample that
:func:`is_audited` picks), so they stop at the same points on the same answers and model.

The model (:class:`WorkerModel`)
--------------------------------
Dawid and Skene's (A. P. Dawid & A. M. Skene, "Maximum likelihood estimation of observer
error-rates using the EM algorithm", Applied Statistics 28(1), 1979): an item's true class
``z`` has prior ``p``; worker ``w`` gives label ``l`` to an item of class ``k`` with
probability ``pi_w[k, l]``, independently of the other answers. So, for an item with answers
``l_1..l_n`` from workers ``w_1..w_n``::

    P(z = k | answers) = p_k * prod_j pi_{w_j}[k, l_j] / (sum over k' of the same)

and the item's *confidence* is the largest of these probabilities.

The parameters come from the project's last consensus fit (the snapshot job), not from the
item itself: :func:`fit_worker_model` takes the fitted class posteriors of every answered
item and computes each worker's expected counts ``N_w[k, l]`` (the posterior of class ``k``
summed over the items where ``w`` said ``l``). Each row of ``pi_w`` is the posterior mean of
a Dirichlet prior centred on the crowd's matrix (every worker's counts pooled) with
``prior_strength`` pseudo-answers, updated with ``N_w``: a worker with few answers is the
crowd, one with many is its own counts (the shrinkage of hierarchical Dawid-Skene models,
e.g. Paun et al., "Comparing Bayesian Models of Annotation", TACL 2018). Probabilities are
kept at or above 0.001, so no single answer is ever certain. A worker the fit has not seen
gets the crowd's matrix. The class prior ``p`` is the Dirichlet posterior mean of the fitted
class shares (one pseudo-count per class). Before any fit, :meth:`WorkerModel.uninformed`
takes every worker as right with probability ``prior_accuracy`` (0.7) and otherwise
uniformly wrong, and the classes as equally likely.

Calibrating the confidence (``calibrate=True``)
-----------------------------------------------
The product above takes an item's answers as independent given its class. They are not
when an item misleads most workers the same way (a plausible wrong class) or workers share a
bias: then ``n`` agreeing answers are worth fewer than ``n`` independent ones and the
confidence overstates what they show (on the simulated crowd ``symmetric``, items stopped at
0.99 were right 98.0% of the time; at 0.95, 93.5%). With ``calibrate=True`` a refit also
estimates the within-item correlation ``rho`` of the answers, and :func:`item_posterior`
raises each of an item's ``n`` likelihoods to the power ``1 / (1 + (n - 1) rho)``: the
answers weigh as Kish's effective sample size ``n / (1 + (n - 1) rho)`` of independent ones,
so agreement saturates at ``1 / rho`` answers' worth of evidence however many agree
(:meth:`WorkerModel.weight_of`). ``rho`` is learned on the project's own answers: the value
on a grid from 0 to 0.6 under which every answer on an item with two answers or more is best
predicted (log score) from the item's other answers, each worker's confusion matrix leaving
that item out (so no answer vouches for itself). It comes out at 0-0.05 on simulated crowds
with independent errors and 0.1-0.3 on crowds with misleading items; there, items stopped at
0.99 are then right 99.5% of the time (``tests/quality/test_redundancy_calibration.py``).

How the defaults were chosen
----------------------------
``min_answers=3``, ``max_answers=40``, ``target_confidence=0.999``,
``refit="hierarchical_dawid_skene"``, ``calibrate=False``. Chosen on simulated crowds with
known truth, not on the real data sets: the seven regimes of
:mod:`expertloop.quality.simulation` other than ``few_answers``, each with its own three to
eight answers per item and again with 20 and 40 (``simulate_answers(answers_per_item=...)``),
and ``_sim_correlated`` with 10 and 30; the rule (``bench/redundancy_simulated.py``) is the
largest mean saving whose mean accuracy, against ``aggregate(method="auto")`` on every
answer, is within half a point, a tie (half a point of saving) going to the smaller loss on
the worst crowd. Two findings decided it (figures in ``docs/quality.md``):

- **The refit.** The stopping model is only as right as the consensus fit it is built from.
  The one-coin fit takes workers who lean one way (strict and lenient judges, a favoured
  class) for reliable ones and stops on their habit: on the simulated strict-and-lenient
  crowd with 20 answers per item the one-coin rule lost 4.3 points, the class-conditional
  refits 0.1-0.4. The full Dawid-Skene refit in turn breaks on weak crowds with many
  classes (five classes, workers a little better than chance: -7.7 points, its own label
  -26), where the hierarchical one (:func:`~expertloop.quality.aggregation.dawid_skene`
  with ``prior_strength="evidence"``: each class's shrinkage toward the crowd learned from
  the data) behaves like the one-coin fit (-2.7, as one-coin). Hierarchical and full tied
  on the first 23 crowds (42.7% saved at -0.27 points); the hierarchical refit's own label
  was right far more often (-0.33 against -1.72 points) and it did not break on the weak
  crowds: over all 53 crowds (seeds 1-3) it saved 40.7% at -0.42 points, the full refit
  41.4% at -0.55, the one-coin 41.8% at -0.68 (the old default, one-coin with at most 20
  answers, 43.3% at -1.12). So it is the default; ``bench/redundancy_simulated.py
  --seeds 3`` (69 crowds) chooses it: 42.8% saved at -0.46 points.
- **The cap.** With 40 answers per item, a weak crowd leaves some items uncertain past 20
  answers; stopping them at 20 lost 10 points there (any refit), letting them go to 40 lost
  under one. A cap only binds on items the rule is still unsure of, so ``max_answers=40``.

``calibrate=True`` (and ``evidence_weight`` below 1) move along the same trade-off as a
higher target rather than beating it (at 0.999 with the full refit: 27.7% saved at -0.06
against 42.7% at -0.27), because a loss against *all* the answers comes mostly from items
the whole crowd gets wrong, or from a final fit with fewer answers per worker, which no
stopping rule rescues; it is offered, for a confidence that means what it says, and is not
the default. A refit by ``aggregate(method="auto")`` itself (``refit="auto"``) costs about
120 fits per refit and was not scored on every data set. The policy was then checked on
the nine real data sets of ``../shared/data`` by ``bench/redundancy.py``, which also scores
the *procedure* of choosing a policy by leave-one-dataset-out (chosen on eight, scored on
the ninth): 28.8% saved at -0.59 points (the old default 30.7% at -0.92), and choosing
leave-one-dataset-out 20.3% at -0.47; the issue's 30% within half a point is not met.
``docs/quality.md`` gives the figures, including where the defaults fall short. Checked
again on 2026-12-04, scored the same two ways: another final label (the hierarchical fit,
the stopping model refitted on the final answers, the label at the stop), an audit share
of 0.1 or 0.2, ``min_answers=2``, the stopping model from ``auto``'s own model choice, and
a full audit of 5% of the items did not move the frontier on both the real sets
(leave-one-dataset-out) and the simulator, so the defaults stay; the real-data mean moves
by 0.15 points with the answer order alone (28.1% at -0.74 on seeds 2-3), and a fixed
count per item with the same number of answers loses 1.43 points where the default loses
0.59.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from expertloop.quality._agg_common import AggregationResult, prepare
from expertloop.quality._common import QualityInputError
from expertloop.quality._redundancy_model import (
    DEFAULT_CALIBRATE,
    DEFAULT_EVIDENCE_WEIGHT,
    DEFAULT_POLICY,
    DEFAULT_REFIT,
    Confusion,
    RedundancyPolicy,
    WorkerModel,
    audit_draw,
    audit_policy,
    fit_worker_model,
    is_audited,
    item_confidence,
    item_posterior,
    item_target,
    next_target,
    one_coin_matrix,
    policy_problem,
)
from expertloop.quality.aggregation import aggregate, dawid_skene, mace, one_coin_dawid_skene


def _hierarchical_dawid_skene(w: Any, i: Any, lab: Any, *, classes: Any) -> AggregationResult:
    return dawid_skene(w, i, lab, classes=classes, prior_strength="evidence")


def _auto(w: Any, i: Any, lab: Any, *, classes: Any) -> AggregationResult:
    return aggregate(w, i, lab, method="auto", classes=classes)


# The consensus fits a replay's refit can use (``replay(refit=...)``).
REFITS: dict[str, Callable[..., AggregationResult]] = {
    "one_coin_dawid_skene": one_coin_dawid_skene,
    "dawid_skene": dawid_skene,
    "hierarchical_dawid_skene": _hierarchical_dawid_skene,
    "mace": mace,
    "auto": _auto,
}

__all__ = [
    "DEFAULT_CALIBRATE",
    "DEFAULT_EVIDENCE_WEIGHT",
    "DEFAULT_POLICY",
    "DEFAULT_REFIT",
    "REFITS",
    "Confusion",
    "RedundancyPolicy",
    "ReplayResult",
    "WorkerModel",
    "audit_draw",
    "audit_policy",
    "fit_stopping_model",
    "fit_worker_model",
    "is_audited",
    "item_confidence",
    "item_posterior",
    "item_target",
    "next_target",
    "one_coin_matrix",
    "policy_problem",
    "replay",
]


@dataclass(frozen=True, eq=False)
class ReplayResult:
    """What :func:`replay` found.

    Attributes:
        item_ids: the distinct items, sorted.
        labels: each item's final consensus: ``aggregate(method="auto")`` on the answers
            used (what an export of the adaptive project would say).
        confidence: each item's confidence when it stopped (under the model of that time).
        answers_used_per_item, answers_available_per_item: per item.
        answers_used, answers_available: the totals.
        classes: the classes, sorted (label codes index them).
        used: a boolean per input answer: was it used.
        policy: the policy replayed.
        stop_labels: each item's most probable class when it stopped (the posterior whose
            largest value is ``confidence``).
    """

    item_ids: NDArray[Any]
    labels: NDArray[Any]
    confidence: NDArray[np.float64]
    answers_used_per_item: NDArray[np.intp]
    answers_available_per_item: NDArray[np.intp]
    classes: NDArray[Any]
    used: NDArray[np.bool_]
    policy: RedundancyPolicy
    stop_labels: NDArray[Any] | None = None

    @property
    def answers_used(self) -> int:
        return int(self.answers_used_per_item.sum())

    @property
    def answers_available(self) -> int:
        return int(self.answers_available_per_item.sum())

    @property
    def saving(self) -> float:
        """The share of the available answers left unused."""
        return 1.0 - self.answers_used / max(self.answers_available, 1)

    def as_dict(self) -> dict[Hashable, Hashable]:
        return dict(zip(self.item_ids.tolist(), self.labels.tolist(), strict=True))


Judges = tuple[ArrayLike | Iterable[Any], ArrayLike | Iterable[Any], ArrayLike | Iterable[Any]]


@dataclass(frozen=True)
class _JudgeVerdicts:
    """Judge verdicts on the replayed items, encoded: judge ``j`` is annotator
    ``n_workers + j`` of the fits; ``keys`` are what a fixed model knows them by."""

    j: NDArray[np.intp]
    i: NDArray[np.intp]
    l: NDArray[np.intp]  # noqa: E741
    ids: NDArray[Any]

    def per_item(self, n_items: int) -> list[NDArray[np.intp]]:
        order = np.argsort(self.i, kind="stable")
        starts = np.searchsorted(self.i[order], np.arange(n_items + 1))
        return [order[starts[i] : starts[i + 1]] for i in range(n_items)]


def _encode_judges(judges: Judges | None, obs: Any) -> _JudgeVerdicts:
    empty = np.zeros(0, dtype=np.intp)
    if judges is None:
        return _JudgeVerdicts(empty, empty, empty, np.zeros(0, dtype=object))
    if len(judges) != 3:
        raise QualityInputError("judges must be (judge_ids, judge_items, judge_labels)")
    jw, ji, jl = (_as_array(x) for x in judges)
    if not (len(jw) == len(ji) == len(jl)):
        raise QualityInputError("judge_ids, judge_items and judge_labels must have the same length")
    if not len(jw):
        return _JudgeVerdicts(empty, empty, empty, np.zeros(0, dtype=object))
    # An item nobody answered, or a verdict that is not one of the classes (unsure,
    # inconsistent, unparsable: None, "inconsistent", ...), carries no evidence.
    item_code = {v: c for c, v in enumerate(obs.item_ids.tolist())}
    class_code = {v: c for c, v in enumerate(obs.classes.tolist())}
    ids, j_codes = np.unique(jw.astype(str), return_inverse=True)
    keep_i, keep_j, keep_l = [], [], []
    for jc, item, label in zip(j_codes.tolist(), ji.tolist(), jl.tolist(), strict=True):
        ic, lc = item_code.get(item), class_code.get(label)
        if ic is not None and lc is not None:
            keep_i.append(ic)
            keep_j.append(jc)
            keep_l.append(lc)
    return _JudgeVerdicts(
        np.asarray(keep_j, dtype=np.intp),
        np.asarray(keep_i, dtype=np.intp),
        np.asarray(keep_l, dtype=np.intp),
        ids,
    )


def _as_array(values: Any) -> NDArray[Any]:
    if isinstance(values, np.ndarray):
        return values
    out = np.empty(len(values := list(values)), dtype=object)
    out[:] = values
    return out


def replay(
    workers: ArrayLike | Iterable[Any],
    items: ArrayLike | Iterable[Any],
    labels: ArrayLike | Iterable[Any],
    *,
    min_answers: int = DEFAULT_POLICY.min_answers,
    max_answers: int = DEFAULT_POLICY.max_answers,
    target_confidence: float = DEFAULT_POLICY.target_confidence,
    seed: int = 0,
    model: WorkerModel | None = None,
    shuffle: bool = True,
    prior_accuracy: float = 0.7,
    prior_strength: float = 5.0,
    evidence_weight: float = DEFAULT_EVIDENCE_WEIGHT,
    classes: Sequence[Hashable] | None = None,
    final: str = "auto",
    judges: Judges | None = None,
    judges_in_final: bool = True,
    calibration_share: float = 0.0,
    leave_one_out: bool = False,
    calibrate: bool = DEFAULT_CALIBRATE,
    refit: str = DEFAULT_REFIT,
) -> ReplayResult:
    """Replay recorded answers through the adaptive stopping rule.

    Each item's answers are taken in a random order (``seed``; in the given order with
    ``shuffle=False``), one at a time, and the item stops where the live system would
    (:func:`next_target`): after ``min_answers``, once :func:`item_confidence` reaches
    ``target_confidence``, or at ``max_answers``, or when its recorded answers run out.

    The worker model is what the live system's periodic consensus fit gives it. Answers
    arrive in rounds: first every item's ``min_answers``, then one more answer per item still
    collecting, and so on; before each round the model is refitted on the answers used so
    far (the consensus fit ``refit``, then :func:`fit_worker_model` with ``prior_strength``
    and ``evidence_weight``: :func:`fit_stopping_model`), as the live ``redundancy.fit`` job
    refits while work goes on. The first round uses :meth:`WorkerModel.uninformed`
    (``prior_accuracy``). Pass ``model`` to use one fixed model throughout instead (the
    live system between two refits; labels then are class codes ``0..K-1`` of that model,
    and judges are known to it by their ids).

    ``judges=(judge_ids, judge_items, judge_labels)``: verdicts of LLM judges, one entry
    per verdict. Each judge is one more annotator: its verdicts are in every item's
    posterior from the start and in every refit (so its reliability is estimated with the
    experts'), but they are free: they never count as answers used, toward
    ``min_answers`` or ``max_answers``. The confidence is that of the experts' class
    (:func:`item_confidence`: the label exported is theirs), so an item never stops on a
    judge's class that its experts did not give. A verdict whose label is not one of the
    classes
    (``None``, ``"inconsistent"``, ``"invalid"``: an unsure judge) carries no evidence
    and is ignored, as are verdicts on items without answers.

    ``calibration_share``: the audit sample. The items :func:`is_audited` picks (salt
    ``seed``; a share ``calibration_share`` of them in expectation) collect one answer more
    than ``min_answers`` whatever their confidence, then follow the rule
    (:func:`audit_policy`), as a live project with that ``audit_share`` does
    (``services/redundancy.py``, the same functions). With ``min_answers=1`` most items
    otherwise end with one answer and a judge's verdict, and the fit cannot tell which of
    two annotators is right when they disagree; the audited items, where experts overlap,
    can. (Until 2026-12-03 exactly ``round(calibration_share * n)`` items drawn from the
    seed's generator collected every answer up to ``max_answers``.)

    ``leave_one_out`` and ``calibrate`` (the within-item correlation of the answers, see
    the module docstring) are passed to :func:`fit_worker_model` at every refit.
    ``refit`` is the consensus fit behind each refit (:func:`fit_stopping_model`, one of
    :data:`REFITS`): ``"hierarchical_dawid_skene"`` (the default: class-conditional
    confusions, shrunk toward the crowd as far as the data say, see the module docstring),
    ``"dawid_skene"``, ``"one_coin_dawid_skene"`` (the default until 2026-12-03), ``"mace"``
    or ``"auto"`` (``aggregate(method="auto")``, the final consensus's own choice; costly).

    ``labels`` of the result are the final consensus of each item on the answers it used
    and the judges' verdicts, ``aggregate(method=final)`` (``"auto"``: the model an export
    of the project fits on its answers, there with gold as anchors and without the judges'
    verdicts; on the real sets it beat the stopping model's own fits as the final label,
    see ``docs/quality.md``), as the stopping rule counted them (an item whose first two
    experts split and whose judge sided with one stopped on the judge's word);
    ``judges_in_final=False`` leaves the verdicts out of it.
    Arrays are array-likes as in :func:`~expertloop.quality.aggregate`.

    >>> r = replay(["a", "b", "c", "d"] * 2, [1, 1, 1, 1, 2, 2, 2, 2],
    ...            ["x", "x", "x", "x", "x", "y", "x", "y"], min_answers=2, max_answers=4,
    ...            target_confidence=0.8, shuffle=False)
    >>> r.answers_used_per_item.tolist(), r.answers_available
    ([2, 3], 8)
    """
    policy = RedundancyPolicy(min_answers, max_answers, target_confidence)
    if refit not in REFITS:
        raise QualityInputError(f"refit must be one of {sorted(REFITS)}")
    if not 0 <= calibration_share <= 1:
        raise QualityInputError("calibration_share must be in [0, 1]")
    obs = prepare(workers, items, labels, classes=classes)
    k = max(obs.n_classes, 2)
    if model is not None and model.classes < obs.n_classes:
        raise QualityInputError("the model has fewer classes than the labels")
    jv = _encode_judges(judges, obs)
    rng = np.random.default_rng(seed)
    n_items = obs.n_items
    n_workers = len(obs.worker_ids)
    order = np.argsort(obs.i, kind="stable")
    starts = np.searchsorted(obs.i[order], np.arange(n_items + 1))
    queues: list[NDArray[np.intp]] = []
    for i in range(n_items):
        mine = order[starts[i] : starts[i + 1]]
        queues.append(rng.permutation(mine) if shuffle else mine)
    available = np.diff(starts).astype(np.intp)
    used_n = np.zeros(n_items, dtype=np.intp)
    audit = np.array(
        [is_audited(seed, item, calibration_share) for item in obs.item_ids.tolist()],
        dtype=bool,
    )
    target = np.array(
        [item_target(0, 0.0, policy, audited=bool(a)) for a in audit], dtype=np.intp
    )
    confidence = np.zeros(n_items)
    top = np.zeros(n_items, dtype=np.intp)
    used = np.zeros(len(obs.w), dtype=bool)
    current = (
        model
        if model is not None
        else WorkerModel.uninformed(
            k, prior_accuracy=prior_accuracy, evidence_weight=evidence_weight
        )
    )
    # A fixed model knows annotators by their ids; refitted ones by their codes (judges
    # after the workers), so a judge never shares a name with a worker.
    expert_key: list[Hashable] = (
        obs.worker_ids.tolist() if model is not None else list(range(n_workers))
    )
    judge_key: list[Hashable] = (
        jv.ids.tolist() if model is not None else list(range(n_workers, n_workers + len(jv.ids)))
    )
    verdicts = jv.per_item(n_items)
    free_keys = [[judge_key[c] for c in jv.j[v].tolist()] for v in verdicts]
    free_labels = [jv.l[v].tolist() for v in verdicts]
    active = [i for i in range(n_items) if available[i] > 0]

    def assess(i: int) -> None:
        answered = queues[i][: used_n[i]]
        confidence[i], top[i] = item_confidence(
            current,
            [expert_key[w] for w in obs.w[answered].tolist()],
            obs.l[answered].tolist(),
            free_keys[i],
            free_labels[i],
        )
        target[i] = item_target(int(used_n[i]), confidence[i], policy, audited=bool(audit[i]))

    first = True
    while active:
        if not first and model is None:
            current = _refit(
                obs,
                used,
                jv,
                k,
                prior_strength,
                evidence_weight,
                current,
                leave_one_out,
                calibrate,
                refit,
            )
            # The live system recomputes open items' confidence after a refit: an item the
            # new model finds confident stops without another answer.
            for i in active:
                assess(i)
        still = []
        for i in active:
            # This round: up to the target (the first round), or one more answer.
            stop_at = min(int(target[i]), int(available[i]))
            while used_n[i] < stop_at:
                used[queues[i][used_n[i]]] = True
                used_n[i] += 1
                assess(i)
            if used_n[i] < target[i] and used_n[i] < available[i]:
                still.append(i)
        active = still
        first = False
    final_labels = _final_labels(
        obs, used, jv if judges_in_final else _encode_judges(None, obs), final, seed
    )
    return ReplayResult(
        item_ids=obs.item_ids,
        labels=final_labels,
        confidence=confidence,
        answers_used_per_item=used_n,
        answers_available_per_item=available,
        classes=obs.classes,
        used=used,
        policy=policy,
        stop_labels=obs.classes[np.minimum(top, len(obs.classes) - 1)],
    )


def _with_judges(
    obs: Any, used: NDArray[np.bool_], jv: _JudgeVerdicts, *, overlap_only: bool = False
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    """The answers used and the judges' verdicts, judges numbered after the workers; with
    ``overlap_only``, only the verdicts on items with two answers or more."""
    n_workers = len(obs.worker_ids)
    keep = np.ones(len(jv.i), dtype=bool)
    if overlap_only:
        keep = np.bincount(obs.i[used], minlength=obs.n_items)[jv.i] >= 2
    return (
        np.concatenate([obs.w[used], n_workers + jv.j[keep]]),
        np.concatenate([obs.i[used], jv.i[keep]]),
        np.concatenate([obs.l[used], jv.l[keep]]),
    )


def _refit(
    obs: Any,
    used: NDArray[np.bool_],
    jv: _JudgeVerdicts,
    k: int,
    prior_strength: float,
    evidence_weight: float,
    fallback: WorkerModel,
    leave_one_out: bool = False,
    calibrate: bool = DEFAULT_CALIBRATE,
    refit: str = DEFAULT_REFIT,
) -> WorkerModel:
    # A judge's reliability is learned where experts overlap: on items with one answer and
    # one verdict the fit cannot tell which of the two is right, and settles on trusting
    # the judge, which is on every item.
    w, i, lab = _with_judges(obs, used, jv, overlap_only=True)
    try:
        return fit_stopping_model(
            w,
            i,
            lab,
            classes=k,
            refit=refit,
            calibrate=calibrate,
            prior_strength=prior_strength,
            evidence_weight=evidence_weight,
            leave_one_out=leave_one_out,
        )
    except Exception:  # a fit that fails leaves the previous model in place, as live
        return fallback


def fit_stopping_model(
    workers: ArrayLike | Iterable[Any],
    items: ArrayLike | Iterable[Any],
    labels: ArrayLike | Iterable[Any],
    *,
    classes: int,
    refit: str = DEFAULT_REFIT,
    calibrate: bool = DEFAULT_CALIBRATE,
    prior_strength: float = 5.0,
    evidence_weight: float = DEFAULT_EVIDENCE_WEIGHT,
    leave_one_out: bool = False,
) -> WorkerModel:
    """The stopping rule's :class:`WorkerModel` from a project's answers: the consensus fit
    ``refit`` (one of :data:`REFITS`), then :func:`fit_worker_model` on its posteriors.

    What :func:`replay` does at every refit and the live ``redundancy.fit`` job does, so
    the two stop at the same points. ``labels`` are class codes ``0..classes-1``. Raises
    what the fit raises (:class:`~expertloop.quality.ConvergenceError`,
    :class:`~expertloop.quality.QualityInputError`).
    """
    if refit not in REFITS:
        raise QualityInputError(f"refit must be one of {sorted(REFITS)}")
    w, i, lab = np.asarray(workers), np.asarray(items), np.asarray(labels)
    fit = REFITS[refit](w, i, lab, classes=list(range(classes)))
    return fit_worker_model(
        w,
        i,
        lab,
        fit.posteriors,
        unit_ids=fit.item_ids,
        prior_strength=prior_strength,
        evidence_weight=evidence_weight,
        leave_one_out=leave_one_out,
        calibrate=calibrate,
    )


def _final_labels(
    obs: Any, used: NDArray[np.bool_], jv: _JudgeVerdicts, method: str, seed: int
) -> NDArray[Any]:
    w, i, lab = _with_judges(obs, used, jv)
    agg = aggregate(w, i, lab, method=method, classes=list(range(obs.n_classes)), seed=seed)
    out = np.empty(obs.n_items, dtype=obs.classes.dtype)
    out[agg.item_ids] = obs.classes[agg.labels]
    return out
