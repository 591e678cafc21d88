"""Adaptive redundancy on real crowd data: answers saved, accuracy kept?

For each categorical data set with gold in ``../shared/data`` (those of ``bench/quality.py``),
every candidate policy is replayed with :func:`expertloop.quality.redundancy.replay` over
several seeds (each seed draws another answer order per item), and compared with
``aggregate(method="auto")`` on all the answers.

- ``datasets``: per data set, answers available, the accuracy on gold with all answers, and
  for each policy the mean answers used, saving and accuracy delta (points).
  ``accuracy_delta_pts_stop_label`` scores the stopping rule's own most probable class
  (``ReplayResult.stop_labels``) instead of ``auto`` on the answers used: the difference
  between the two is the final model choice, not the stopping.
  ``accuracy_delta_pts_fixed_same_budget`` (default policy only): the alternative at the
  same cost, a fixed number of answers per item (:func:`fixed_budget`: every item the same
  count, a random subset of its answers, as many answers in all as the replay used), scored
  the same way. What adaptive stopping buys over ``answers_per_item`` at equal cost.
- ``mean_saving`` and ``mean_accuracy_delta_pts``: the shipped default policy, averaged
  over the data sets (each data set weighs the same). ``target_met``: saving >= 0.30 and
  delta >= -0.5. ``mean_accuracy_delta_pts_fixed_same_budget``: the fixed count's mean.
- ``leave_one_dataset_out``: for each data set, the policy the selection rule picks on the
  *other* data sets (the largest mean saving whose mean delta is >= -0.5 there; failing
  that, the best mean delta), scored on the one left out; and the means of those scores.
  This scores the procedure of choosing a policy, not the policy chosen on all of them.

Usage: ``python bench/redundancy.py ../shared/data [--seeds 2]``; prints ONE JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from expertloop.quality import aggregate
from expertloop.quality.redundancy import (
    DEFAULT_CALIBRATE,
    DEFAULT_EVIDENCE_WEIGHT,
    DEFAULT_POLICY,
    DEFAULT_REFIT,
    replay,
)
from quality import categorical_datasets, load_categorical

# (min_answers, max_answers, target_confidence, evidence_weight, calibrate, refit); the first
# is the shipped default (replay's keyword defaults), chosen on simulated crowds
# (``bench/redundancy_simulated.py``). An evidence weight below 1 tempers each answer's
# likelihood (a power posterior); ``calibrate`` estimates the within-item correlation of the
# answers at every refit (``replay(calibrate=True)``); ``refit`` is the consensus fit behind
# the stopping model (``replay(refit=...)``). The others span the trade-off, for the
# leave-one-dataset-out score of choosing among them: a higher target, a lower one with the
# full Dawid-Skene refit, and the default until 2026-12-03 (one-coin refit, at most 20).
Policy = tuple[int, int, float, float, bool, str]
CANDIDATES: list[Policy] = [
    (
        DEFAULT_POLICY.min_answers,
        DEFAULT_POLICY.max_answers,
        DEFAULT_POLICY.target_confidence,
        DEFAULT_EVIDENCE_WEIGHT,
        DEFAULT_CALIBRATE,
        DEFAULT_REFIT,
    ),
    (3, 40, 0.9999, 1.0, False, "hierarchical_dawid_skene"),
    (3, 40, 0.998, 1.0, False, "dawid_skene"),
    (3, 20, 0.999, 1.0, False, "one_coin_dawid_skene"),
]

_REFIT_NAMES = {
    "one_coin_dawid_skene": "one_coin",
    "dawid_skene": "ds",
    "hierarchical_dawid_skene": "hds",
}


def _accuracy(labels: dict[Any, Any], gold: dict[str, str]) -> float:
    return float(np.mean([labels[t] == g for t, g in gold.items() if t in labels]))


def run(data_dir: Path, seeds: int) -> dict[str, Any]:
    datasets: dict[str, Any] = {}
    for folder in categorical_datasets(data_dir):
        (w, t, lab), gold = load_categorical(folder)
        started = time.monotonic()
        full = _accuracy(aggregate(w, t, lab).as_dict(), gold)
        entry: dict[str, Any] = {
            "answers": len(w),
            "accuracy_all_answers": round(full, 4),
            "policies": {},
        }
        for policy in CANDIDATES:
            used, savings, deltas, stop_deltas, fixed = [], [], [], [], []
            for seed in range(seeds):
                r = replay(
                    w,
                    t,
                    lab,
                    min_answers=policy[0],
                    max_answers=policy[1],
                    target_confidence=policy[2],
                    evidence_weight=policy[3],
                    calibrate=policy[4],
                    refit=policy[5],
                    seed=seed,
                )
                used.append(r.answers_used)
                savings.append(r.saving)
                deltas.append(100 * (_accuracy(r.as_dict(), gold) - full))
                assert r.stop_labels is not None
                stops = dict(zip(r.item_ids.tolist(), r.stop_labels.tolist(), strict=True))
                stop_deltas.append(100 * (_accuracy(stops, gold) - full))
                if policy == CANDIDATES[0]:
                    keep = fixed_budget(t, r.answers_used, seed)
                    subset = ([w[n] for n in keep], [t[n] for n in keep], [lab[n] for n in keep])
                    same = aggregate(*subset, seed=seed)
                    fixed.append(100 * (_accuracy(same.as_dict(), gold) - full))
            entry["policies"][_name(policy)] = {
                "answers_used": round(float(np.mean(used)), 1),
                "saving": round(float(np.mean(savings)), 4),
                "accuracy_delta_pts": round(float(np.mean(deltas)), 3),
                "accuracy_delta_pts_stop_label": round(float(np.mean(stop_deltas)), 3),
            }
            if fixed:
                entry["policies"][_name(policy)]["accuracy_delta_pts_fixed_same_budget"] = round(
                    float(np.mean(fixed)), 3
                )
        entry["seconds"] = round(time.monotonic() - started, 1)
        datasets[folder.name] = entry
        print(folder.name, json.dumps(entry["policies"]), file=sys.stderr, flush=True)
    default = _name(CANDIDATES[0])
    mean_saving = _mean(datasets, default, "saving")
    mean_delta = _mean(datasets, default, "accuracy_delta_pts")
    return {
        "seeds": seeds,
        "default_policy": default,
        "datasets": datasets,
        "mean_saving": round(mean_saving, 4),
        "mean_accuracy_delta_pts": round(mean_delta, 3),
        "target_met": bool(mean_saving >= 0.30 and mean_delta >= -0.5),
        "mean_accuracy_delta_pts_fixed_same_budget": round(
            _mean(datasets, default, "accuracy_delta_pts_fixed_same_budget"), 3
        ),
        "leave_one_dataset_out": _lodo(datasets),
    }


def fixed_budget(items: list[Any], budget: int, seed: int) -> list[int]:
    """The answers a fixed number per item keeps with ``budget`` answers in all: the largest
    count ``c`` with ``sum(min(available, c)) <= budget`` for every item, one more for
    items drawn at random (among those with more) until the budget is spent, each item's
    answers a random subset (``seed``). Indices into ``items``, sorted.

    >>> keep = fixed_budget(["a"] * 5 + ["b"] * 2 + ["c"], 6, seed=0)
    >>> len(keep), sum(n < 5 for n in keep)  # "a": 3 of its 5; "b": both; "c": its one
    (6, 3)
    """
    rng = np.random.default_rng(seed)
    _, code = np.unique(np.asarray(items, dtype=str), return_inverse=True)
    available = np.bincount(code)
    c = 0
    while c < available.max() and np.minimum(available, c + 1).sum() <= budget:
        c += 1
    count = np.minimum(available, c)
    rest = budget - int(count.sum())
    more = np.flatnonzero(available > c)
    if rest > 0 and len(more):
        count[rng.choice(more, size=min(rest, len(more)), replace=False)] += 1
    order = np.argsort(code, kind="stable")
    starts = np.concatenate([[0], np.cumsum(available)])
    keep: list[int] = []
    for i, n in enumerate(count.tolist()):
        mine = order[starts[i] : starts[i + 1]]
        keep.extend(rng.choice(mine, size=n, replace=False).tolist())
    return sorted(keep)


def _name(policy: Policy) -> str:
    name = f"min{policy[0]}_max{policy[1]}_target{policy[2]}"
    if policy[3] != 1.0:
        name += f"_weight{policy[3]}"
    name += "_calibrated" if policy[4] else ""
    return name + "_refit_" + _REFIT_NAMES.get(policy[5], policy[5])


def _mean(datasets: dict[str, Any], policy: str, key: str) -> float:
    return float(np.mean([d["policies"][policy][key] for d in datasets.values()]))


def _choose(datasets: dict[str, Any]) -> str:
    names = [_name(p) for p in CANDIDATES]
    ok = [n for n in names if _mean(datasets, n, "accuracy_delta_pts") >= -0.5]
    if ok:
        return max(ok, key=lambda n: _mean(datasets, n, "saving"))
    return max(names, key=lambda n: _mean(datasets, n, "accuracy_delta_pts"))


def _lodo(datasets: dict[str, Any]) -> dict[str, Any]:
    per: dict[str, Any] = {}
    for held in datasets:
        rest = {k: v for k, v in datasets.items() if k != held}
        chosen = _choose(rest)
        per[held] = {"chosen": chosen, **datasets[held]["policies"][chosen]}
    return {
        "per_dataset": per,
        "mean_saving": round(float(np.mean([p["saving"] for p in per.values()])), 4),
        "mean_accuracy_delta_pts": round(
            float(np.mean([p["accuracy_delta_pts"] for p in per.values()])), 3
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, nargs="?", default=Path("../shared/data"))
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.data_dir, args.seeds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
