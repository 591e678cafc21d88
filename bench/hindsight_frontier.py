"""How far the stopping rule can go on this data even when tuned to it: a hindsight bound.

The saving targets of adaptive redundancy (``bench/redundancy.py``: at least 30% fewer answers
at no more than 0.5 points lower accuracy) and of triage (``bench/triage.py``: at least 40%
fewer expert answers at no more than 1 point lower) are means over data sets. This script
sweeps the one knob of the rule, ``target_confidence`` (and ``min_answers``), over a grid on
every data set, and reports two figures that *look at the data* and so are not policies:

- ``best_uniform``: the single grid policy with the largest mean saving whose mean delta
  meets the bound, chosen on all the data sets at once (the most a benchmark-tuned default
  of this rule could show);
- ``best_per_dataset``: a grid policy chosen *per data set* with hindsight, maximising the
  mean saving subject to the mean delta meeting the bound (an exact search over the
  per-data-set choices, the deltas being additive).

If even ``best_per_dataset`` misses the target, no setting of this rule reaches it on this
data, and a shipped default, chosen without looking at it, cannot either. Each point is the
mean over ``--seeds`` answer orders, scored exactly as the two benches score theirs (the
same replay, the same final label, the same reference).

Usage: ``python bench/hindsight_frontier.py ../shared/data --bench triage|redundancy
[--seeds 2]``; prints ONE JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from expertloop.quality import aggregate
from expertloop.quality.redundancy import replay
from quality import categorical_datasets, load_categorical
from triage import DATASETS as TRIAGE_DATASETS
from triage import load as load_triage

# (min_answers, max_answers, target_confidence); the rest of each rule is its shipped form:
# replay's defaults for redundancy, bench/triage.py's TRIAGE_POLICY (audit share 0.1, no
# calibration) for triage.
REDUNDANCY_GRID = [(3, 40, c) for c in (0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999)] + [
    (2, 40, c) for c in (0.995, 0.999, 0.9999)
]
TRIAGE_GRID = [(1, 20, c) for c in (0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999)] + [
    (2, 20, 0.99)
]
TARGETS = {"redundancy": (0.30, -0.5), "triage": (0.40, -1.0)}


def _accuracy(labels: dict[Any, Any], reference: dict[Any, Any]) -> float:
    return float(np.mean([labels[t] == g for t, g in reference.items() if t in labels]))


def redundancy_points(data_dir: Path, seeds: int) -> dict[str, dict[str, tuple[float, float]]]:
    """Per data set and grid policy: (saving, accuracy delta in points against ``auto`` on all)."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for folder in categorical_datasets(data_dir):
        (w, t, lab), gold = load_categorical(folder)
        full = _accuracy(aggregate(w, t, lab).as_dict(), gold)
        out[folder.name] = {}
        for lo, hi, conf in REDUNDANCY_GRID:
            runs = [
                replay(w, t, lab, min_answers=lo, max_answers=hi, target_confidence=conf, seed=s)
                for s in range(seeds)
            ]
            out[folder.name][f"min{lo}_target{conf}"] = (
                float(np.mean([r.saving for r in runs])),
                float(np.mean([100 * (_accuracy(r.as_dict(), gold) - full) for r in runs])),
            )
        print(folder.name, json.dumps(out[folder.name]), file=sys.stderr, flush=True)
    return out


def triage_points(data_dir: Path, seeds: int) -> dict[str, dict[str, tuple[float, float]]]:
    """Per data set and grid policy: (expert saving, delta of the experts' label), as triage.py."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for name in TRIAGE_DATASETS:
        folder = data_dir / name
        if not (folder / "human.csv").exists():
            continue
        (w, t, lab), verdicts, gold = load_triage(folder)
        judges = (verdicts[0], verdicts[1], verdicts[2])
        consensus = aggregate(w, t, lab).as_dict()
        reference = gold or consensus
        full = _accuracy(consensus, reference)
        classes = sorted(set(lab))
        w_, t_, l_ = (np.asarray(x) for x in (w, t, lab))
        out[name] = {}
        for lo, hi, conf in TRIAGE_GRID:
            savings, deltas = [], []
            for seed in range(seeds):
                judged = replay(
                    w, t, lab, judges=judges, min_answers=lo, max_answers=hi,
                    target_confidence=conf, calibration_share=0.1, seed=seed, classes=classes,
                )
                u = judged.used
                experts = aggregate(w_[u], t_[u], l_[u], classes=classes, seed=seed)
                savings.append(1 - judged.answers_used / len(w))
                deltas.append(100 * (_accuracy(experts.as_dict(), reference) - full))
            out[name][f"min{lo}_target{conf}"] = (float(np.mean(savings)), float(np.mean(deltas)))
        print(name, json.dumps(out[name]), file=sys.stderr, flush=True)
    return out


def best_uniform(points: dict[str, dict[str, tuple[float, float]]], bound: float) -> dict[str, Any]:
    """The one policy, the same on every data set, with the best mean saving within the bound."""
    names = next(iter(points.values())).keys()
    means = {
        n: (
            float(np.mean([p[n][0] for p in points.values()])),
            float(np.mean([p[n][1] for p in points.values()])),
        )
        for n in names
    }
    ok = {n: m for n, m in means.items() if m[1] >= bound}
    if not ok:
        return {"policy": None, "mean_saving": None, "mean_accuracy_delta_pts": None}
    best = max(ok, key=lambda n: ok[n][0])
    return {
        "policy": best,
        "mean_saving": round(ok[best][0], 4),
        "mean_accuracy_delta_pts": round(ok[best][1], 3),
    }


def best_per_dataset(
    points: dict[str, dict[str, tuple[float, float]]], bound: float
) -> dict[str, Any]:
    """Exact search: one policy per data set, the largest mean saving with mean delta >= bound.

    The Pareto set of (delta sum, saving sum) over the data sets seen so far is extended one
    data set at a time and pruned of dominated pairs, so the search is exact and small.
    """
    frontier: list[tuple[float, float, tuple[str, ...]]] = [(0.0, 0.0, ())]
    for per in points.values():
        grown = [(d + pd, s + ps, (*c, n)) for d, s, c in frontier for n, (ps, pd) in per.items()]
        grown.sort(key=lambda x: (-x[0], -x[1]))
        frontier, best_saving = [], -np.inf
        for d, s, c in grown:  # by delta descending: keep a pair only if it saves more
            if s > best_saving:
                frontier.append((d, s, c))
                best_saving = s
    k = len(points)
    ok = [(d, s, c) for d, s, c in frontier if d / k >= bound]
    if not ok:
        return {"choice": None, "mean_saving": None, "mean_accuracy_delta_pts": None}
    d, s, c = max(ok, key=lambda x: x[1])
    return {
        "choice": dict(zip(points, c, strict=True)),
        "mean_saving": round(s / k, 4),
        "mean_accuracy_delta_pts": round(d / k, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, nargs="?", default=Path("../shared/data"))
    parser.add_argument("--bench", choices=sorted(TARGETS), required=True)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args(argv)
    collect = triage_points if args.bench == "triage" else redundancy_points
    points = collect(args.data_dir, args.seeds)
    saving_target, bound = TARGETS[args.bench]
    uniform = best_uniform(points, bound)
    per = best_per_dataset(points, bound)
    print(
        json.dumps(
            {
                "bench": args.bench,
                "seeds": args.seeds,
                "target": {"saving": saving_target, "accuracy_delta_pts": bound},
                "points": {
                    n: {p: {"saving": round(s, 4), "accuracy_delta_pts": round(d, 3)}
                        for p, (s, d) in per_ds.items()}
                    for n, per_ds in points.items()
                },
                "best_uniform": uniform,
                "best_per_dataset": per,
                "reachable_by_tuning_to_this_data": bool(
                    per["mean_saving"] is not None and per["mean_saving"] >= saving_target
                ),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
