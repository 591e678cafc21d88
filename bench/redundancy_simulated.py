"""Adaptive redundancy on simulated crowds with known truth: how the default policy is chosen.

Each candidate stopping rule (policy, consensus fit behind the stopping model, calibration)
is replayed with :func:`expertloop.quality.redundancy.replay` on simulated crowds, and the
accuracy against the truth of ``aggregate(method="auto")`` on the answers it used is compared
with ``auto`` on every answer. The crowds (``--seeds`` draws of each):

- the seven regimes of :mod:`expertloop.quality.simulation` other than ``few_answers``
  (one-coin, class-biased, strict-and-lenient, weak crowd with a few experts, spammers,
  misleading items, look-alike negatives), each with its own number of answers per item
  (three to eight), with 20 and with 40 (``simulate_answers(answers_per_item=...)``): the
  same crowds asked for more answers, where ``max_answers`` matters;
- ``simulate_correlated`` (hard items pull most workers to one wrong class), 10 and 30
  answers per item.

The selection rule: the candidate with the largest mean saving whose mean accuracy change
is >= -0.5 points; candidates within half a point of that saving count as tied, and the tie
goes to the smallest loss on the worst crowd (a stopping rule over-confident in one regime,
as the one-coin stopping model is where workers lean one way, is not a default for half a
point of saving). ``chosen`` names it; ``bench/redundancy.py`` then checks it on the real
data sets, and scores choosing among its candidates leave-one-dataset-out.

Usage: ``python bench/redundancy_simulated.py [--seeds 3]``; prints ONE JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np

from expertloop.quality import aggregate
from expertloop.quality._sim_correlated import simulate_correlated
from expertloop.quality.redundancy import DEFAULT_CALIBRATE, DEFAULT_POLICY, DEFAULT_REFIT, replay
from expertloop.quality.simulation import SCENARIOS, simulate_answers

# (min_answers, max_answers, target_confidence, refit, calibrate); the first is the default.
Candidate = tuple[int, int, float, str, bool]
CANDIDATES: list[Candidate] = [
    (
        DEFAULT_POLICY.min_answers,
        DEFAULT_POLICY.max_answers,
        DEFAULT_POLICY.target_confidence,
        DEFAULT_REFIT,
        DEFAULT_CALIBRATE,
    ),
    (3, 40, 0.999, "dawid_skene", False),
    (3, 40, 0.998, "dawid_skene", False),
    (3, 40, 0.999, "one_coin_dawid_skene", False),
    (3, 20, 0.999, "one_coin_dawid_skene", False),  # the default until 2026-12-03
    (3, 40, 0.9999, "hierarchical_dawid_skene", False),
    (3, 40, 0.9999, "one_coin_dawid_skene", False),
]
MEAN_LIMIT, TIE = -0.5, 0.005


def crowds(seeds: int) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for seed in range(1, seeds + 1):
        for scenario in SCENARIOS:
            if scenario == "few_answers":
                continue
            for per_item in (None, 20, 40):
                name = f"{scenario}:{per_item or 'own'}:{seed}"
                out.append((name, simulate_answers(scenario, seed=seed, answers_per_item=per_item)))
        for per_item in (10, 30):
            crowd = simulate_correlated(seed=seed, n_items=400, answers_per_item=per_item)
            out.append((f"correlated:{per_item}:{seed}", crowd))
    return out


def name_of(c: Candidate) -> str:
    return f"min{c[0]}_max{c[1]}_target{c[2]}_{c[3]}" + ("_calibrated" if c[4] else "")


def run(seeds: int) -> dict[str, Any]:
    per: dict[str, dict[str, Any]] = {name_of(c): {} for c in CANDIDATES}
    started = time.monotonic()
    for crowd_name, sim in crowds(seeds):
        full = aggregate(sim.workers, sim.items, sim.labels)
        base = sim.accuracy(full.item_ids, full.labels)
        most = int(np.bincount(sim.items).max())
        done: dict[tuple[Any, ...], dict[str, float]] = {}
        for c in CANDIDATES:
            # A max above the most answers any item has replays as that most.
            key = (c[0], min(c[1], most), c[2], c[3], c[4])
            if key not in done:
                r = replay(
                    sim.workers, sim.items, sim.labels, min_answers=c[0], max_answers=c[1],
                    target_confidence=c[2], refit=c[3], calibrate=c[4], seed=0,
                )
                done[key] = {
                    "saving": round(r.saving, 4),
                    "delta_pts": round(100 * (sim.accuracy(r.item_ids, r.labels) - base), 3),
                }
            per[name_of(c)][crowd_name] = done[key]
        print(crowd_name, round(time.monotonic() - started), file=sys.stderr, flush=True)
    summary = {}
    for name, cells in per.items():
        deltas = [v["delta_pts"] for v in cells.values()]
        summary[name] = {
            "mean_saving": round(float(np.mean([v["saving"] for v in cells.values()])), 4),
            "mean_accuracy_delta_pts": round(float(np.mean(deltas)), 3),
            "worst_accuracy_delta_pts": round(float(min(deltas)), 3),
        }
    ok = [n for n, s in summary.items() if s["mean_accuracy_delta_pts"] >= MEAN_LIMIT]
    chosen = None
    if ok:
        best = max(summary[n]["mean_saving"] for n in ok)
        tied = [n for n in ok if summary[n]["mean_saving"] >= best - TIE]
        chosen = max(tied, key=lambda n: summary[n]["worst_accuracy_delta_pts"])
    return {
        "seeds": seeds,
        "crowds": len(next(iter(per.values()))),
        "default": name_of(CANDIDATES[0]),
        "chosen": chosen,
        "default_is_chosen": chosen == name_of(CANDIDATES[0]),
        "candidates": summary,
        "per_crowd": per,
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.seeds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
