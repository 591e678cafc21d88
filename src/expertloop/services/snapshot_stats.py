"""The dashboard's numbers, computed by the consensus snapshot job beside each refit.

From the fitted consensus (:class:`~expertloop.exports.consensus.ProjectConsensus`, before
its answers' codes are let go) and a few passes the job makes anyway:

- per channel: Krippendorff's alpha with a bootstrap interval over items
  (:func:`expertloop.quality.agreement.krippendorff_alpha_interval`), the distribution of
  the answers over the channel's classes and of the consensus over them;
- per worker: answers, median time per answer, agreement with the consensus (the share of
  their observations equal to their unit's consensus), the model's reliability estimate,
  gold accuracy with its Beta interval (:func:`expertloop.quality.workers.gold_accuracy`),
  reviews decided and accepted, and position bias
  (:func:`expertloop.quality.workers.position_bias`) over the newest answers, where the
  task type shows options in a random order;
- the project's item counts (for progress and the ETA).

Pages read the results from ``consensus_snapshots.stats`` and ``consensus_workers``; no page
refits anything.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from expertloop.domain import Project
from expertloop.domain.safe_json import loads_stored
from expertloop.exports.consensus import PAIR_BASE, ProjectConsensus
from expertloop.quality import (
    QualityInputError,
    gold_accuracy,
    krippendorff_alpha_interval,
    position_bias,
)
from expertloop.store import Database
from expertloop.store import dashboard as dashboard_store
from expertloop.store import exports as export_store
from expertloop.store.dashboard import ItemCounts, WorkerRow
from expertloop.tasks import get_task_type

__all__ = ["BOOTSTRAP_REPLICATES", "POSITION_SAMPLE", "snapshot_stats"]

log = logging.getLogger("expertloop.consensus")

BOOTSTRAP_REPLICATES = 200
# Position bias is measured on the project's newest answers, at most this many.
POSITION_SAMPLE = 50_000


def _label(value: Any) -> str:
    return str(value)


def snapshot_stats(
    db: Database, project: Project, pc: ProjectConsensus
) -> tuple[dict[str, Any], list[WorkerRow], ItemCounts]:
    """``(stats, per-worker rows, item counts)`` for a snapshot (see the module docstring).
    Call it before ``pc.alphas()``, which lets the answers' codes go."""
    task = get_task_type(project.task_type)
    with db.read() as conn:
        counts = dashboard_store.item_counts(conn, project.id)
        gold_rows = list(export_store.iter_gold(conn, project.id))
        reviews = dashboard_store.review_counts_by_worker(conn, project.id)
        workers_all: list[np.ndarray[Any, Any]] = []
        ms_all: list[np.ndarray[Any, Any]] = []
        for batch in dashboard_store.iter_answer_durations(conn, project.id):
            arr = np.asarray(batch, dtype=np.int64).reshape(-1, 2)
            workers_all.append(arr[:, 0])
            ms_all.append(arr[:, 1])
        sample = (
            dashboard_store.position_sample(conn, project.id, limit=POSITION_SAMPLE)
            if task.has_positions
            else []
        )
    answers_by_worker, median_ms = _medians(workers_all, ms_all)

    channels: dict[str, Any] = {}
    compared: dict[int, int] = {}
    agreed: dict[int, int] = {}
    gold_codes = _gold_codes(task, pc, gold_rows)
    gold_w: list[np.ndarray[Any, Any]] = []
    gold_a: list[np.ndarray[Any, Any]] = []
    gold_t: list[np.ndarray[Any, Any]] = []
    for key, fitted in pc.channels.items():
        spec = pc.specs[key]
        answers = pc.answers.get(key)
        entry: dict[str, Any] = {
            "kind": spec.kind,
            "numeric": spec.numeric,
            "classes": [_label(c) for c in spec.classes],
            "consensus_counts": np.bincount(fitted.best, minlength=len(spec.classes)).tolist(),
            "method": fitted.method,
            "answer_counts": [0] * len(spec.classes),
            "alpha": None,
            "alpha_low": None,
            "alpha_high": None,
            "alpha_units": 0,
        }
        if answers is not None and len(answers.units):
            units = answers.units.astype(np.int64)
            entry["answer_counts"] = np.bincount(
                answers.labels.astype(np.intp), minlength=len(spec.classes)
            ).tolist()
            entry.update(_alpha(spec, units, answers.workers, answers.labels, pc))
            pos = fitted.positions(units)
            found = pos >= 0
            agree = np.zeros(len(units), dtype=bool)
            agree[found] = answers.labels[found] == fitted.best[pos[found]]
            _tally(compared, answers.workers[found], np.ones(int(found.sum()), dtype=np.int64))
            _tally(agreed, answers.workers[found], agree[found].astype(np.int64))
            truth = gold_codes.get(key)
            if truth:
                item_units = units // PAIR_BASE if spec.per_pair else units
                gold_items = np.fromiter(truth, dtype=np.int64, count=len(truth))
                on_gold = np.isin(item_units, gold_items)
                if on_gold.any():
                    lookup = np.vectorize(truth.__getitem__, otypes=[np.int64])
                    gold_w.append(answers.workers[on_gold].astype(np.int64))
                    gold_a.append(answers.labels[on_gold].astype(np.int64))
                    gold_t.append(lookup(item_units[on_gold]))
        channels[key] = entry

    reliability = _reliability(pc)
    gold = _gold(gold_w, gold_a, gold_t)
    positions, position_overall = _positions(task, sample)
    rows = []
    for worker in sorted(answers_by_worker):
        n_cmp = compared.get(worker, 0)
        g = gold.get(worker)
        decided, accepted = reviews.get(worker, (0, 0))
        pb = positions.get(worker)
        rows.append(
            WorkerRow(
                worker_id=worker,
                answers=answers_by_worker[worker],
                median_ms=median_ms.get(worker),
                compared=n_cmp,
                agreement=(agreed.get(worker, 0) / n_cmp) if n_cmp else None,
                reliability=reliability.get(worker),
                gold_answers=g[0] if g else 0,
                gold_correct=g[1] if g else 0,
                gold_mean=g[2] if g else None,
                gold_low=g[3] if g else None,
                gold_high=g[4] if g else None,
                reviews_decided=decided,
                reviews_accepted=accepted,
                position_decisive=pb[0] if pb else 0,
                position_first=pb[1] if pb else 0,
                position_p=pb[2] if pb else None,
            )
        )
    stats = {
        "channels": channels,
        "primary": next(iter(pc.specs), None),
        "items": {
            "total": counts.items,
            "complete": counts.complete,
            "disabled": counts.disabled,
            "gold": counts.gold,
            "remaining_answers": counts.remaining_answers,
        },
        "answers": int(sum(answers_by_worker.values())),
        "workers": len(answers_by_worker),
        "position_bias": position_overall,
        "bootstrap_replicates": BOOTSTRAP_REPLICATES,
    }
    return stats, rows, counts


def _medians(
    workers_all: list[np.ndarray[Any, Any]], ms_all: list[np.ndarray[Any, Any]]
) -> tuple[dict[int, int], dict[int, int]]:
    if not workers_all:
        return {}, {}
    workers = np.concatenate(workers_all)
    ms = np.concatenate(ms_all)
    if not len(workers):
        return {}, {}
    order = np.lexsort((ms, workers))
    workers, ms = workers[order], ms[order]
    ids, starts, n = np.unique(workers, return_index=True, return_counts=True)
    low = ms[starts + (n - 1) // 2]
    high = ms[starts + n // 2]
    medians = (low + high) // 2
    return (
        {int(w): int(c) for w, c in zip(ids, n, strict=True)},
        {int(w): int(m) for w, m in zip(ids, medians, strict=True)},
    )


def _tally(
    into: dict[int, int], workers: np.ndarray[Any, Any], values: np.ndarray[Any, Any]
) -> None:
    if not len(workers):
        return
    ids, inverse = np.unique(workers, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=len(ids))
    for w, v in zip(ids.tolist(), sums.tolist(), strict=True):
        into[int(w)] = into.get(int(w), 0) + round(v)


def _alpha(
    spec: Any, units: np.ndarray[Any, Any], workers: np.ndarray[Any, Any],
    labels: np.ndarray[Any, Any], pc: ProjectConsensus,
) -> dict[str, Any]:
    excluded = pc.stats_exclude
    if len(excluded):
        item_units = units // PAIR_BASE if spec.per_pair else units
        keep = ~np.isin(item_units, excluded)
        units, workers, labels = units[keep], workers[keep], labels[keep]
    if not len(units):
        return {"alpha": None, "alpha_low": None, "alpha_high": None}
    try:
        if spec.numeric:
            values = np.asarray(spec.classes, dtype=np.float64)[labels]
            result = krippendorff_alpha_interval(
                workers, units, values, level="interval", n_boot=BOOTSTRAP_REPLICATES
            )
        else:
            result = krippendorff_alpha_interval(
                workers, units, labels, level="nominal", n_boot=BOOTSTRAP_REPLICATES
            )
    except QualityInputError:
        return {"alpha": None, "alpha_low": None, "alpha_high": None}
    return {
        "alpha": result.alpha,
        "alpha_low": None if np.isnan(result.low) else result.low,
        "alpha_high": None if np.isnan(result.high) else result.high,
        "alpha_units": result.n_units,
    }


def _reliability(pc: ProjectConsensus) -> dict[int, float]:
    """The primary fitted channel's per-worker reliability (the first channel that has
    one)."""
    for fitted in pc.channels.values():
        if fitted.worker_ids is not None and fitted.worker_reliability is not None:
            return {
                int(w): float(r)
                for w, r in zip(fitted.worker_ids, fitted.worker_reliability, strict=True)
                if np.isfinite(r)
            }
    return {}


def _gold_codes(
    task: Any, pc: ProjectConsensus, gold_rows: list[tuple[int, str]]
) -> dict[str, dict[int, int]]:
    """Per channel, each gold item's true class (its position in the channel's classes)."""
    out: dict[str, dict[int, int]] = {key: {} for key in pc.specs}
    for item_id, text in gold_rows:
        value = loads_stored(text) if text is not None else None
        if not isinstance(value, dict):
            continue
        try:
            observations = task.observations(value, config=pc.config)
        except (KeyError, TypeError, ValueError):
            continue
        for obs in observations:
            spec = pc.specs.get(obs.key)
            if spec is None or spec.per_pair or obs.value not in spec.classes:
                continue
            out[obs.key][item_id] = spec.classes.index(obs.value)
    return out


def _gold(
    workers: list[np.ndarray[Any, Any]], answers: list[np.ndarray[Any, Any]],
    truths: list[np.ndarray[Any, Any]],
) -> dict[int, tuple[int, int, float, float, float]]:
    if not workers:
        return {}
    result = gold_accuracy(np.concatenate(workers), np.concatenate(answers),
                           np.concatenate(truths))
    return {
        int(w): (int(n), int(k), float(m), float(lo), float(hi))
        for w, n, k, m, lo, hi in zip(
            result.worker_ids, result.n_answers, result.n_correct, result.posterior_mean,
            result.lower, result.upper, strict=True,
        )
    }


def _positions(
    task: Any, sample: list[tuple[int, str, str | None]]
) -> tuple[dict[int, tuple[int, int, float]], dict[str, Any] | None]:
    workers: list[int] = []
    choices: list[str] = []
    for worker, value_json, presentation_json in sample:
        try:
            value = loads_stored(value_json)
            presentation = loads_stored(presentation_json) if presentation_json else None
            found = task.position_choices(value, presentation)
        except (KeyError, TypeError, ValueError) as exc:
            log.debug("position choices of an answer: %s", exc)
            continue
        workers.extend([worker] * len(found))
        choices.extend(found)
    if not choices:
        return {}, None
    firsts = ["A"] * len(choices)
    per = position_bias(workers, choices, firsts)
    overall = position_bias([0] * len(choices), choices, firsts)
    by_worker = {
        int(w): (int(n), int(k), float(p))
        for w, n, k, p in zip(per.worker_ids, per.n_decisive, per.n_first, per.p_value,
                              strict=True)
    }
    decisive = int(overall.n_decisive[0])
    return by_worker, {
        "answers": len(sample),
        "comparisons": len(choices),
        "decisive": decisive,
        "first": int(overall.n_first[0]),
        "share_first": None if decisive == 0 else float(overall.share_first[0]),
        "p_value": float(overall.p_value[0]),
    }
