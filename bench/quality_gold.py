"""Does ``aggregate(method="auto")`` choose better when it is given some gold?

Usage::

    python bench/quality_gold.py ../shared/data            # real sets (3 seeds) + simulator
    python bench/quality_gold.py ../shared/data --seeds 1 --sim-seeds 1

Per categorical data set with gold: reveal the gold of a random 2%, 5% and 10% of the gold
items (at least ``MIN_GOLD``; ``--seeds`` draws each), run ``auto`` with the revealed gold and
without any gold, and score accuracy **only on the unrevealed gold items**, with majority
vote and every candidate model (fitted with the revealed gold clamped) on the same items;
also ``auto`` with the revealed gold as anchors only (``_select.GOLD_CHOICE`` off: the
answer-based choice), which separates the choice by gold from the anchoring.
Then the same on simulated crowds (:mod:`expertloop.quality.simulation`, every scenario;
reveal 5% of the items, at least ``MIN_GOLD``): ``auto`` with gold against without.
Nothing here is tuned: ``MIN_GOLD`` and ``GOLD_Z`` were fixed before this ran.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from expertloop.quality import _select
from expertloop.quality import aggregation as agg
from expertloop.quality._common import ConvergenceError
from expertloop.quality._gold_select import MIN_GOLD
from expertloop.quality.simulation import SCENARIOS, simulate_answers

NUMERIC = {"zheng_n_emotion"}
FRACTIONS = (0.02, 0.05, 0.10)


def load(folder: Path) -> tuple[list[str], list[str], list[str], dict[str, str]]:
    with (folder / "labels.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    with (folder / "gold.csv").open(newline="") as fh:
        gold = {r["task"]: r["label"] for r in csv.DictReader(fh)}
    return [r["worker"] for r in rows], [r["task"] for r in rows], [r["label"] for r in rows], gold


def _labels(result: agg.AggregationResult) -> dict[Any, Any]:
    return result.as_dict()


def _accuracy(labels: dict[Any, Any], gold: dict[Any, Any], items: list[Any]) -> float:
    return 100.0 * float(np.mean([labels[i] == gold[i] for i in items]))


def _singles(w: Any, t: Any, lab: Any, revealed: dict[Any, Any]) -> dict[str, dict[Any, Any]]:
    out = {}
    for name in _select.active_fitters():
        if name == _select.MAJORITY:
            out[name] = _labels(agg.majority_vote(w, t, lab, gold=revealed))
            continue
        public, options = _select.CANDIDATES[name]
        try:
            out[name] = _labels(getattr(agg, public)(w, t, lab, gold=revealed, **options))
        except ConvergenceError:
            continue
    return out


def one_case(
    w: Any, t: Any, lab: Any, gold: dict[Any, Any], frac: float, seed: int, without: Any
) -> dict[str, Any]:
    answered = sorted(set(t) & set(gold), key=str)
    rng = np.random.default_rng(seed)
    n_reveal = max(MIN_GOLD, round(frac * len(answered)))
    pick = rng.choice(len(answered), n_reveal, replace=False)
    revealed = {answered[j]: gold[answered[j]] for j in pick}
    hidden = [i for i in answered if i not in revealed]
    t0 = time.perf_counter()
    with_gold = agg.aggregate(w, t, lab, gold=revealed)
    seconds = time.perf_counter() - t0
    _select.GOLD_CHOICE = False
    anchors_only = agg.aggregate(w, t, lab, gold=revealed)
    _select.GOLD_CHOICE = True
    singles = _singles(w, t, lab, revealed)
    acc = {n: _accuracy(v, gold, hidden) for n, v in singles.items()}
    best = max(acc, key=lambda n: acc[n])
    a, b = _labels(with_gold), _labels(without)
    right = np.array([(a[i] == gold[i]) - (b[i] == gold[i]) for i in hidden], dtype=float)
    return {
        "revealed": n_reveal,
        "scored": len(hidden),
        "auto_with_gold": round(_accuracy(_labels(with_gold), gold, hidden), 2),
        "model_with_gold": with_gold.method,
        "auto_anchors_only": round(_accuracy(_labels(anchors_only), gold, hidden), 2),
        "model_anchors_only": anchors_only.method,
        "auto_without": round(_accuracy(_labels(without), gold, hidden), 2),
        "model_without": without.method,
        "majority_vote": round(acc[_select.MAJORITY], 2),
        "best_single": round(acc[best], 2),
        "best_single_model": best,
        "seconds_with_gold": round(seconds, 2),
        # Standard error of the paired accuracy difference with and without gold (points).
        "with_minus_without_se": round(100.0 * float(right.std(ddof=1)) / np.sqrt(len(right)), 2),
    }


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return round(float(np.mean([r[key] for r in rows])), 2)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "cases": len(rows),
        "auto_with_gold": _mean(rows, "auto_with_gold"),
        "auto_anchors_only": _mean(rows, "auto_anchors_only"),
        "auto_without": _mean(rows, "auto_without"),
        "majority_vote": _mean(rows, "majority_vote"),
        "best_single": _mean(rows, "best_single"),
        "gap_to_best_with_gold": round(
            float(np.mean([r["auto_with_gold"] - r["best_single"] for r in rows])), 2
        ),
        "gap_to_best_without": round(
            float(np.mean([r["auto_without"] - r["best_single"] for r in rows])), 2
        ),
        "below_mv_with_gold": sum(
            bool(r["auto_with_gold"] < r["majority_vote"] - 1e-9) for r in rows
        ),
        "below_mv_without": sum(bool(r["auto_without"] < r["majority_vote"] - 1e-9) for r in rows),
        "gold_overruled": sum(bool(r["model_with_gold"] != r["model_anchors_only"]) for r in rows),
        "with_minus_without": round(
            float(np.mean([r["auto_with_gold"] - r["auto_without"] for r in rows])), 2
        ),
        "worst_with_minus_without": round(
            float(min(r["auto_with_gold"] - r["auto_without"] for r in rows)), 2
        ),
        # Cases where gold made auto worse by more than two paired standard errors.
        "worse_by_more_than_2se": sum(
            bool(r["auto_with_gold"] - r["auto_without"] < -2 * r["with_minus_without_se"] - 1e-9)
            for r in rows
        ),
        "worst_in_se": round(
            float(
                min(
                    (r["auto_with_gold"] - r["auto_without"])
                    / max(r["with_minus_without_se"], 1e-9)
                    for r in rows
                )
            ),
            2,
        ),
    }


def run_real(data_dir: Path, seeds: int) -> dict[str, Any]:
    per_dataset: dict[str, Any] = {}
    for folder in sorted(data_dir.iterdir()):
        if not (folder / "labels.csv").exists() or not (folder / "gold.csv").exists():
            continue
        if folder.name in NUMERIC:
            continue
        w, t, lab, gold = load(folder)
        t0 = time.perf_counter()
        without = agg.aggregate(w, t, lab)
        seconds_without = time.perf_counter() - t0
        cases = {
            f"{frac:g}": [one_case(w, t, lab, gold, frac, s, without) for s in range(seeds)]
            for frac in FRACTIONS
        }
        rows = [r for rs in cases.values() for r in rs]
        per_dataset[folder.name] = {
            "by_fraction": {f: summary(rs) for f, rs in cases.items()},
            "mean": summary(rows),
            "models_with_gold": sorted({r["model_with_gold"] for r in rows}),
            "model_without": without.method,
            "seconds_without": round(seconds_without, 2),
            "seconds_with_gold_mean": _mean(rows, "seconds_with_gold"),
        }
        print(folder.name, json.dumps(per_dataset[folder.name]["mean"]), file=sys.stderr)
    means = {k: v["mean"] for k, v in per_dataset.items()}
    overall = {
        key: round(float(np.mean([m[key] for m in means.values()])), 2)
        for key in (
            "auto_with_gold",
            "auto_anchors_only",
            "auto_without",
            "majority_vote",
            "best_single",
            "gap_to_best_with_gold",
            "gap_to_best_without",
            "with_minus_without",
        )
    }
    overall["datasets_with_mean_below_mv_with_gold"] = sum(
        bool(m["auto_with_gold"] < m["majority_vote"]) for m in means.values()
    )
    overall["datasets_with_mean_below_mv_without"] = sum(
        bool(m["auto_without"] < m["majority_vote"]) for m in means.values()
    )
    overall["cases_below_mv_with_gold"] = sum(m["below_mv_with_gold"] for m in means.values())
    overall["cases_below_mv_without"] = sum(m["below_mv_without"] for m in means.values())
    overall["worse_by_more_than_2se"] = sum(m["worse_by_more_than_2se"] for m in means.values())
    overall["gold_overruled"] = sum(m["gold_overruled"] for m in means.values())
    overall["cases"] = sum(m["cases"] for m in means.values())
    return {"per_dataset": per_dataset, "overall": overall}


def run_simulated(seeds: int, frac: float = 0.05) -> dict[str, Any]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for scenario in SCENARIOS:
        for s in range(seeds):
            sim = simulate_answers(scenario, seed=1000 + s)
            truth = {i: int(sim.truth[i]) for i in range(len(sim.truth))}
            w, t, lab = sim.workers, sim.items, sim.labels
            without = agg.aggregate(w, t, lab)
            rows.setdefault(scenario, []).append(one_case(w, t, lab, truth, frac, s, without))
    every = [r for rs in rows.values() for r in rs]
    return {
        "per_scenario": {k: summary(v) for k, v in rows.items()},
        "overall": summary(every),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sim-seeds", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    out = {
        "min_gold": MIN_GOLD,
        "gold_z": 1.0,
        "fractions": list(FRACTIONS),
        "seeds": args.seeds,
        "real": run_real(args.data_dir, args.seeds),
        "simulated": run_simulated(args.sim_seeds) if args.sim_seeds else {},
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
