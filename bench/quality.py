"""Benchmark expertloop's label aggregation against crowd-kit on real crowdsourcing data.

Usage::

    python bench/quality.py ../shared/data            # accuracy per dataset + generalisation
    python bench/quality.py ../shared/data --scale    # adds the 1,000,000-label timing

Prints one JSON object. crowd-kit columns appear only when crowd-kit is installed (the
``bench`` extra); the pairwise figures appear when ``bench/quality_pairwise.py`` exists.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import multiprocessing as mp
import resource
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from expertloop.quality import _select
from expertloop.quality import aggregation as agg

NUMERIC = {"zheng_n_emotion"}
Labels = tuple[list[str], list[str], list[str]]
Runner = Callable[[list[str], list[str], list[str]], dict[str, str]]


def load_categorical(folder: Path) -> tuple[Labels, dict[str, str]]:
    with (folder / "labels.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    with (folder / "gold.csv").open(newline="") as fh:
        gold = {r["task"]: r["label"] for r in csv.DictReader(fh)}
    workers = [r["worker"] for r in rows]
    tasks = [r["task"] for r in rows]
    labels = [r["label"] for r in rows]
    return (workers, tasks, labels), gold


def categorical_datasets(data_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in data_dir.iterdir()
        if (p / "labels.csv").exists() and (p / "gold.csv").exists() and p.name not in NUMERIC
    )


class _Ours:
    """Runs one expertloop method; remembers the model ``auto`` used on the last call."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.last_model = ""

    def __call__(self, w: list[str], t: list[str], lab: list[str]) -> dict[str, str]:
        if self.method in _select.CANDIDATES and self.method != _select.MAJORITY:
            public, options = _select.CANDIDATES[self.method]
            result = getattr(agg, public)(w, t, lab, **options)
        else:
            fn = agg.aggregate if self.method == "auto" else getattr(agg, self.method)
            result = fn(w, t, lab)
        self.last_model = result.method
        if result.components:
            self.last_model += ": " + " + ".join(f"{w:.2f} {n}" for n, w in result.components)
        return dict(zip(result.item_ids.tolist(), result.labels.tolist(), strict=True))


def _expertloop_runner(method: str) -> _Ours:
    return _Ours(method)


EXPERTLOOP_METHODS = [
    "majority_vote",
    "dawid_skene",
    "hierarchical_dawid_skene",
    "community_dawid_skene",
    "one_coin_dawid_skene",
    "glad",
    "mace",
    "mace_fitted_prior",
    "auto",
]


def crowdkit_runners() -> dict[str, Runner]:
    if importlib.util.find_spec("crowdkit") is None:
        return {}
    import pandas as pd
    from crowdkit import aggregation as ck

    factories: dict[str, Callable[[], Any]] = {
        "MajorityVote": ck.MajorityVote,
        "Wawa": ck.Wawa,
        "DawidSkene": lambda: ck.DawidSkene(n_iter=100),
        "OneCoinDawidSkene": lambda: ck.OneCoinDawidSkene(n_iter=100),
        "GLAD": ck.GLAD,
        "MACE": ck.MACE,
        "MMSR": ck.MMSR,
    }

    def make(factory: Callable[[], Any]) -> Runner:
        def run(w: list[str], t: list[str], lab: list[str]) -> dict[str, str]:
            df = pd.DataFrame({"worker": w, "task": t, "label": lab})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = factory().fit_predict(df)
            return {str(k): str(v) for k, v in out.items()}

        return run

    return {name: make(f) for name, f in factories.items()}


def _score(run: Runner, data: Labels, gold: dict[str, str]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        predicted = run(*data)
    except Exception as exc:  # a peer failing on a dataset is a finding, not a crash
        return {"accuracy": None, "seconds": None, "error": f"{type(exc).__name__}: {exc}"[:200]}
    seconds = time.perf_counter() - start
    scored = [predicted.get(task) == label for task, label in gold.items() if task in predicted]
    return {"accuracy": round(float(np.mean(scored)), 4), "seconds": round(seconds, 3)}


def run_accuracy(data_dir: Path) -> dict[str, Any]:
    ours = {m: _expertloop_runner(m) for m in EXPERTLOOP_METHODS}
    peers = crowdkit_runners()
    datasets: dict[str, Any] = {}
    for folder in categorical_datasets(data_dir):
        data, gold = load_categorical(folder)
        entry: dict[str, Any] = {
            "answers": len(data[0]),
            "expertloop": {m: _score(r, data, gold) for m, r in ours.items()},
        }
        if peers:
            entry["crowdkit"] = {m: _score(r, data, gold) for m, r in peers.items()}
        entry["auto_chose"] = ours["auto"].last_model
        datasets[folder.name] = entry
    return {"datasets": datasets, "summary": summarise(datasets)}


def _best(scores: dict[str, Any]) -> tuple[str, float]:
    valid = {m: s["accuracy"] for m, s in scores.items() if s.get("accuracy") is not None}
    name = max(valid, key=lambda m: valid[m])
    return name, valid[name]


def summarise(datasets: dict[str, Any]) -> dict[str, Any]:
    per: dict[str, Any] = {}
    gaps = []
    single_gaps = []
    for name, entry in datasets.items():
        ours = entry["expertloop"]
        best_ours = _best(ours)
        best_single = _best({m: s for m, s in ours.items() if m != "auto"})
        auto = ours["auto"]["accuracy"]
        single_gaps.append(best_single[1] - auto)
        row: dict[str, Any] = {
            "expertloop_best": list(best_ours),
            "expertloop_best_single": list(best_single),
            "auto": auto,
            "auto_chose": entry.get("auto_chose"),
            "majority_vote": ours["majority_vote"]["accuracy"],
            "auto_not_below_majority_vote": auto >= ours["majority_vote"]["accuracy"],
        }
        overall = best_ours[1]
        if "crowdkit" in entry:
            best_peer = _best(entry["crowdkit"])
            row["crowdkit_best"] = list(best_peer)
            row["expertloop_best_ge_crowdkit_best"] = best_ours[1] >= best_peer[1]
            overall = max(overall, best_peer[1])
        row["gap_auto_to_best_points"] = round(100 * (overall - auto), 2)
        gaps.append(overall - auto)
        per[name] = row
    mean_gap = 100 * float(np.mean(gaps))
    mean_single_gap = 100 * float(np.mean(single_gaps))
    checks = {
        "a_expertloop_best_ge_crowdkit_best_everywhere": all(
            r.get("expertloop_best_ge_crowdkit_best", True) for r in per.values()
        ),
        "b_auto_never_below_majority_vote": all(
            r["auto_not_below_majority_vote"] for r in per.values()
        ),
        "c_mean_gap_auto_to_best_points": round(mean_gap, 3),
        "c_auto_within_half_point_of_best_on_average": mean_gap <= 0.5,
        "d_mean_gap_auto_to_best_single_points": round(mean_single_gap, 3),
        "d_auto_within_half_point_of_best_single_on_average": mean_single_gap <= 0.5,
        "note": "the rule's setting is judged by leave-one-dataset-out in 'generalisation', "
        "not by these in-sample figures",
    }
    return {"per_dataset": per, "checks": checks}


# --- scale -----------------------------------------------------------------------------------


def synthetic_labels(
    seed: int, n_items: int = 100_000, per_item: int = 10, n_workers: int = 2_000, k: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Workers with known confusion matrices (accuracy 0.45..0.95, errors Dirichlet-spread)."""
    rng = np.random.default_rng(seed)
    accuracy = rng.uniform(0.45, 0.95, n_workers)
    errors = rng.dirichlet(np.ones(k - 1), size=(n_workers, k))
    confusion = np.empty((n_workers, k, k))
    for true in range(k):
        others = [c for c in range(k) if c != true]
        confusion[:, true, true] = accuracy
        confusion[:, true, others] = (1 - accuracy)[:, None] * errors[:, true, :]
    truth = rng.choice(k, size=n_items, p=rng.dirichlet(np.full(k, 5.0)))
    start = rng.integers(0, n_workers, (n_items, 1))
    workers = ((start + np.arange(per_item) * 197) % n_workers).ravel()
    items = np.repeat(np.arange(n_items), per_item)
    cdf = confusion[workers, truth[items]].cumsum(axis=1)
    labels = (rng.random(len(items))[:, None] > cdf).sum(axis=1).clip(0, k - 1)
    return workers, items, labels, truth


def _measure(fn: Callable[[], float], queue: Any) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu_start = time.perf_counter(), time.process_time()
    accuracy = fn()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put(
        {
            "accuracy": round(accuracy, 5),
            "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3),
            "peak_extra_mb": round((peak - before) / 1024, 1),
        }
    )


def _in_child(fn: Callable[[], float]) -> dict[str, Any]:
    """Run in a forked process, so the peak RSS measured is this run's alone."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(fn, queue))
    proc.start()
    result: dict[str, Any] = queue.get()
    proc.join()
    return result


def run_scale(data_dir: Path, seed: int = 0) -> dict[str, Any]:
    w, i, lab, truth = synthetic_labels(seed)
    out: dict[str, Any] = {"labels": len(w), "items": len(truth), "workers": 2000, "classes": 5}

    def ours() -> float:
        r = agg.dawid_skene(w, i, lab)
        return float((r.labels == truth[r.item_ids]).mean())

    def ours_at_peer_tol() -> float:
        # crowd-kit stops when its evidence lower bound per answer rises by less than 1e-5;
        # ours when the log-likelihood per answer changes by less than ``tol``.
        r = agg.dawid_skene(w, i, lab, tol=1e-5)
        return float((r.labels == truth[r.item_ids]).mean())

    out["expertloop_dawid_skene"] = _in_child(ours)
    out["expertloop_dawid_skene_tol_1e-5"] = _in_child(ours_at_peer_tol)
    if importlib.util.find_spec("crowdkit") is not None:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene

        def peer() -> float:
            df = pd.DataFrame({"worker": w, "task": i, "label": lab})
            pred = DawidSkene().fit_predict(df)  # crowd-kit's defaults (n_iter=100, tol=1e-5)
            return float((pred.to_numpy() == truth[pred.index.to_numpy()]).mean())

        out["crowdkit_dawid_skene"] = _in_child(peer)
        ours_run, peer_run = out["expertloop_dawid_skene"], out["crowdkit_dawid_skene"]
        out["speedup"] = round(peer_run["seconds"] / ours_run["seconds"], 1)
        out["speedup_cpu"] = round(peer_run["cpu_seconds"] / ours_run["cpu_seconds"], 1)
        out["same_accuracy"] = abs(peer_run["accuracy"] - ours_run["accuracy"]) <= 1e-4
        same_tol = out["expertloop_dawid_skene_tol_1e-5"]
        out["speedup_at_peer_tol"] = round(peer_run["seconds"] / same_tol["seconds"], 1)
        out["speedup_cpu_at_peer_tol"] = round(peer_run["cpu_seconds"] / same_tol["cpu_seconds"], 1)
    largest = max(categorical_datasets(data_dir), key=_answer_count)
    data, gold = load_categorical(largest)
    out["largest_dataset"] = {
        "name": largest.name,
        "glad": _score(_expertloop_runner("glad"), data, gold),
        "mace": _score(_expertloop_runner("mace"), data, gold),
        "auto": _score(_expertloop_runner("auto"), data, gold),
    }
    return out


def _answer_count(folder: Path) -> int:
    with (folder / "labels.csv").open(newline="") as fh:
        return sum(1 for _ in fh) - 1


def _pairwise_module() -> Any:
    path = Path(__file__).with_name("quality_pairwise.py")
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("quality_pairwise", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--scale", action="store_true", help="add the 1M-label timing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sim-seeds", type=int, default=4, help="simulated crowds per scenario (generalisation)"
    )
    parser.add_argument(
        "--no-generalisation", action="store_true", help="skip leave-one-out and simulations"
    )
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "crowdkit_installed": importlib.util.find_spec("crowdkit") is not None
    }
    report.update(run_accuracy(args.data_dir))
    if not args.no_generalisation:
        from quality_generalisation import run_generalisation

        report["generalisation"] = run_generalisation(args.data_dir, args.sim_seeds)
    pairwise = _pairwise_module()
    if pairwise is not None:
        report["pairwise"] = pairwise.run_pairwise(args.data_dir)
    if args.scale:
        report["scale"] = run_scale(args.data_dir, args.seed)
        if pairwise is not None:
            report["bt_scale"] = pairwise.run_bt_scale(args.seed)
    json.dump(report, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
