"""Each project's ``target_confidence`` chosen from a full audit of its own items: can it?

``bench/hindsight_frontier.py`` showed that adaptive redundancy's target (at least 30% fewer
answers within 0.5 points) is within reach on ``../shared/data`` only with a target chosen
per data set, because the stopping confidence is miscalibrated by different amounts on
different sets. The one per-project evidence a live project could choose it from is its
audited items. This bench scores that procedure, without looking at the gold:

1. A share ``--share`` of the items (:func:`~expertloop.quality.redundancy.is_audited`,
   salt ``seed``) is audited in full: those items collect every recorded answer.
2. Every other item follows the stopping rule at each candidate target (:func:`replay`,
   the shipped policy otherwise).
3. On the audited items, the *flip rate* of a candidate target is the share whose exported
   label (``aggregate(method="auto")`` on the answers held, the rest of the project as used
   at that target) changes when the item stops where the rule would have stopped it (its
   answers in a random order, the stopping model fitted on what a default run holds plus
   the audit) instead of taking every answer. This is what a live project could compute.
4. The chosen target is the lowest candidate whose flip rate is at most ``tol``, provided
   the audit holds at least ``1 / tol`` items (so that one flip is within ``tol``);
   otherwise the shipped default.

Scored per data set as ``bench/redundancy.py`` scores a policy (answers saved, accuracy on
gold against ``auto`` on all the answers), the audited items counting with every answer.
``tol`` is not tuned: 0.005 is the issue's accuracy budget itself (a flip rate bounds the
accuracy lost on the items it counts); 0.01 and 0.02 show how a looser one moves.

Also printed: every candidate target as a uniform policy with the same full audit, and
``best_per_dataset``, the hindsight ceiling with the audit (one candidate per data set
chosen with the gold, as ``bench/hindsight_frontier.py``).

Usage: ``python bench/redundancy_audit_target.py ../shared/data [--seeds 2] [--share 0.1]``;
prints ONE JSON object (progress per data set on stderr). Takes about 35 minutes for two
seeds on two cores.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from expertloop.quality import aggregate
from expertloop.quality.redundancy import (
    DEFAULT_POLICY,
    ReplayResult,
    fit_stopping_model,
    is_audited,
    item_confidence,
    replay,
)
from hindsight_frontier import best_per_dataset
from quality import categorical_datasets, load_categorical

CANDIDATES = (0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999)
TOLERANCES = (0.005, 0.01, 0.02)
Answers = tuple[NDArray[Any], NDArray[Any], NDArray[Any]]


def _accuracy(labels: dict[Any, Any], gold: dict[Any, Any]) -> float:
    return float(np.mean([labels[t] == g for t, g in gold.items() if t in labels]))


def audit_stops(
    answers: Answers, codes: NDArray[np.intp], audited: NDArray[np.bool_],
    default_run: ReplayResult, k: int, seed: int,
) -> dict[float, NDArray[np.bool_]]:
    """Per candidate target, the audited answers an audited item would have held had it
    stopped there (its answers in a random order), under the stopping model fitted on the
    answers a default run holds plus the audit."""
    w, t, _ = answers
    held = default_run.used | audited
    model = fit_stopping_model(w[held], t[held], codes[held], classes=k)
    rng = np.random.default_rng(1000 + seed)
    keep = {c: np.zeros(len(w), dtype=bool) for c in CANDIDATES}
    for item in np.unique(t[audited]):
        order = rng.permutation(np.flatnonzero(audited & (t == item)))
        ws, ls = w[order].tolist(), codes[order].tolist()
        confidence = [item_confidence(model, ws[:m], ls[:m])[0] for m in range(1, len(order) + 1)]
        for c in CANDIDATES:
            stop = next(
                (m for m in range(DEFAULT_POLICY.min_answers, len(order) + 1)
                 if confidence[m - 1] >= c),
                len(order),
            )
            keep[c][order[:stop]] = True
    return keep


def flip_rates(
    answers: Answers, audited: NDArray[np.bool_], runs: dict[float, ReplayResult],
    stops: dict[float, NDArray[np.bool_]], seed: int,
) -> tuple[int, dict[float, float]]:
    """The audit's size, and per candidate the share of audited items whose exported label
    changes when they stop at it instead of taking every answer."""
    items = np.unique(answers[1][audited])
    rates = {}
    for c in CANDIDATES:
        rest = runs[c].used & ~audited
        full = aggregate(*(x[rest | audited] for x in answers), seed=seed).as_dict()
        stopped = aggregate(*(x[rest | stops[c]] for x in answers), seed=seed).as_dict()
        rates[c] = float(np.mean([full[x] != stopped[x] for x in items])) if len(items) else 0.0
    return len(items), rates


def choose(n_audited: int, rates: dict[float, float], tol: float) -> float:
    """The lowest candidate whose flip rate is within ``tol``, if the audit can resolve
    ``tol`` (one flip within it); otherwise the shipped default."""
    ok = [c for c in CANDIDATES if rates[c] <= tol] if n_audited >= 1 / tol else []
    return min(ok) if ok else DEFAULT_POLICY.target_confidence


def score_dataset(folder: Path, seeds: int, share: float) -> dict[str, Any]:
    (w_, t_, l_), gold = load_categorical(folder)
    answers: Answers = (np.asarray(w_), np.asarray(t_), np.asarray(l_))
    w, t, lab = answers
    classes, codes = np.unique(lab, return_inverse=True)
    full = _accuracy(aggregate(w, t, lab).as_dict(), gold)
    per_seed: list[dict[str, Any]] = []
    for seed in range(seeds):
        runs = {c: replay(w, t, lab, target_confidence=c, seed=seed) for c in CANDIDATES}
        audited_items = [x for x in np.unique(t).tolist() if is_audited(seed, x, share)]
        audited = np.isin(t, audited_items)
        stops = audit_stops(
            answers, codes, audited, runs[DEFAULT_POLICY.target_confidence], len(classes), seed
        )
        n, rates = flip_rates(answers, audited, runs, stops, seed)
        scores = {}
        for c in CANDIDATES:
            used = runs[c].used | audited
            labels = aggregate(w[used], t[used], lab[used], seed=seed).as_dict()
            scores[c] = (1 - used.sum() / len(w), 100 * (_accuracy(labels, gold) - full))
        chosen = {tol: choose(n, rates, tol) for tol in TOLERANCES}
        per_seed.append({"audited_items": n, "flip_rates": rates, "scores": scores,
                         "chosen": chosen})
    return {
        "audited_items": [s["audited_items"] for s in per_seed],
        "flip_rates": {str(c): [round(s["flip_rates"][c], 4) for s in per_seed]
                       for c in CANDIDATES},
        "uniform": {str(c): _mean([s["scores"][c] for s in per_seed]) for c in CANDIDATES},
        "chosen": {
            f"tol{tol}": {
                "targets": [s["chosen"][tol] for s in per_seed],
                **_mean([s["scores"][s["chosen"][tol]] for s in per_seed]),
            }
            for tol in TOLERANCES
        },
    }


def _mean(points: list[tuple[float, float]]) -> dict[str, float]:
    return {
        "saving": round(float(np.mean([p[0] for p in points])), 4),
        "accuracy_delta_pts": round(float(np.mean([p[1] for p in points])), 3),
    }


def _summary(per: list[dict[str, float]]) -> dict[str, float]:
    return {
        "mean_saving": round(float(np.mean([p["saving"] for p in per])), 4),
        "mean_accuracy_delta_pts": round(float(np.mean([p["accuracy_delta_pts"] for p in per])), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--share", type=float, default=0.1, help="the audit share (full audit)")
    args = ap.parse_args()
    if not 0 < args.share < 1:
        ap.error("--share must be between 0 and 1")
    datasets = {}
    for folder in categorical_datasets(args.data_dir):
        datasets[folder.name] = score_dataset(folder, args.seeds, args.share)
        print(folder.name, json.dumps(datasets[folder.name]), file=sys.stderr, flush=True)
    points = {
        name: {c: (p["saving"], p["accuracy_delta_pts"]) for c, p in d["uniform"].items()}
        for name, d in datasets.items()
    }
    print(json.dumps({
        "audit_share": args.share,
        "seeds": args.seeds,
        "chosen_from_audit": {
            f"tol{tol}": _summary([d["chosen"][f"tol{tol}"] for d in datasets.values()])
            for tol in TOLERANCES
        },
        "uniform_with_audit": {
            str(c): _summary([d["uniform"][str(c)] for d in datasets.values()])
            for c in CANDIDATES
        },
        "best_per_dataset_hindsight": best_per_dataset(points, -0.5),
        "datasets": datasets,
    }))


if __name__ == "__main__":
    main()
