"""Benchmarks of expertloop's preference models against choix and crowd-kit.

``run_pairwise(data_dir)``: the Urbano et al. (2010) music-similarity preference judgements
(``urbano_music_pairs``), scored by pair accuracy against the experts' gold groups and by mean
Kendall tau per query. ``run_bt_scale(seed)``: one million synthetic comparisons among 10,000
entities, expertloop's :func:`bradley_terry` timed against choix's estimators.

Usage: ``python bench/quality_pairwise.py ../shared/data [--scale]`` prints one JSON object.

On fitting per query or globally: items are (query, candidate) pairs and every comparison is
within one query, so the comparison graph falls into one component per query. The strengths
are therefore only identified within a query, and with an L2 penalty (which centres each
component on 0) a global fit of plain Bradley-Terry gives exactly the per-query fits. What a
global fit adds is sharing the parameters that are not about items: the tie propensity
(Davidson's ``nu``, Rao-Kupper's ``theta``) and each worker's reliability, which are
properties of the task and of the people, not of a query. So all models are fitted once on
all comparisons, and scores are only ever compared within a query.
"""

from __future__ import annotations

import csv
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.stats import kendalltau

from expertloop.quality.preferences import bradley_terry, crowd_bt

Scores = dict[str, float]
OPT_TOL = 1e-9


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _evaluate(
    scores: Scores,
    pairs: set[tuple[str, str]],
    group: dict[str, int],
    query: dict[str, str],
) -> dict[str, float]:
    hits = 0.0
    n = 0
    for a, b in pairs:
        if group[a] == group[b]:
            continue
        n += 1
        better, worse = (a, b) if group[a] < group[b] else (b, a)
        sa, sb = scores.get(better, 0.0), scores.get(worse, 0.0)
        hits += 1.0 if sa > sb else 0.5 if sa == sb else 0.0
    taus = []
    by_query: dict[str, list[str]] = {}
    for item, q in query.items():
        by_query.setdefault(q, []).append(item)
    for items in by_query.values():
        g = [group[i] for i in items]
        if len(items) < 2 or len(set(g)) < 2:
            continue
        s = [scores.get(i, 0.0) for i in items]
        if len(set(s)) < 2:
            taus.append(0.0)
            continue
        tau = kendalltau(s, [-x for x in g]).statistic
        taus.append(float(tau))
    return {"pair_accuracy": round(hits / n, 4), "mean_kendall_tau": round(float(np.mean(taus)), 4)}


def run_pairwise(data_dir: Path) -> dict[str, Any]:
    """Pair accuracy and Kendall tau of each model on ``urbano_music_pairs``."""
    root = Path(data_dir) / "urbano_music_pairs"
    rows = _read_csv(root / "comparisons.csv")
    gold = _read_csv(root / "gold_items.csv")
    group = {r["item"]: int(r["gold_group"]) for r in gold}
    query = {r["item"]: r["query"] for r in gold}
    left = np.array([r["left"] for r in rows])
    right = np.array([r["right"] for r in rows])
    winner = np.array([r["winner"] for r in rows])
    workers = np.array([r["worker"] for r in rows])
    ties = winner == "tie"
    left_won = winner == "left"
    winners = np.where(left_won, left, right)
    losers = np.where(left_won, right, left)
    pairs = {
        (a, b) if a < b else (b, a) for a, b in zip(left.tolist(), right.tolist(), strict=True)
    }

    results: dict[str, Any] = {}

    def record(name: str, fit: Callable[[], Scores]) -> None:
        start = time.perf_counter()
        try:
            scores = fit()
        except Exception as exc:  # a competitor failing is a result, not a crash
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            return
        seconds = time.perf_counter() - start
        results[name] = {**_evaluate(scores, pairs, group, query), "seconds": round(seconds, 4)}

    def el_bt(tie_model: Literal["davidson", "rao_kupper", "half"]) -> Callable[[], Scores]:
        def fit() -> Scores:
            r = bradley_terry(winners, losers, ties=ties, tie_model=tie_model)
            results.setdefault("_tie_parameters", {})[tie_model] = r.tie_parameter
            return r.as_dict()

        return fit

    record("expertloop_bt_ties_half", el_bt("half"))
    record("expertloop_bt_davidson", el_bt("davidson"))
    record("expertloop_bt_rao_kupper", el_bt("rao_kupper"))

    def el_per_query() -> Scores:
        # For comparison: one Davidson fit per query (a tie parameter per query).
        scores: Scores = {}
        q_of = np.array([query[x] for x in left.tolist()])
        for q in sorted(set(q_of.tolist())):
            sel = q_of == q
            r = bradley_terry(winners[sel], losers[sel], ties=ties[sel], tie_model="davidson")
            scores.update(r.as_dict())
        return scores

    record("expertloop_bt_davidson_per_query", el_per_query)

    def el_crowd() -> Scores:
        r = crowd_bt(workers, winners, losers, ties=ties)
        return dict(zip(r.entity_ids.tolist(), r.scores.tolist(), strict=True))

    record("expertloop_crowd_bt_ties_half", el_crowd)
    record(
        "expertloop_bt_no_ties_dropped",
        lambda: bradley_terry(winners[~ties], losers[~ties], entities=list(group)).as_dict(),
    )

    try:
        import choix
    except ImportError:
        results["choix"] = "not installed"
    else:
        ids = sorted(group)
        code = {x: k for k, x in enumerate(ids)}

        def choix_fit(with_ties: bool, alpha: float) -> Callable[[], Scores]:
            def fit() -> Scores:
                data: list[tuple[int, int]] = []
                for w, lo, tie in zip(
                    winners.tolist(), losers.tolist(), ties.tolist(), strict=True
                ):
                    if tie:
                        if with_ties:  # half a win each way = one each way, decisive doubled
                            data += [(code[w], code[lo]), (code[lo], code[w])]
                    else:
                        data += [(code[w], code[lo])] * (2 if with_ties else 1)
                params = choix.ilsr_pairwise(len(ids), data, alpha=alpha)
                return dict(zip(ids, params.tolist(), strict=True))

            return fit

        record("choix_ilsr_ties_dropped", choix_fit(False, 0.01))
        record("choix_ilsr_ties_half", choix_fit(True, 0.01))

    try:
        import pandas as pd
        from crowdkit.aggregation import NoisyBradleyTerry
    except ImportError:
        results["crowdkit_noisy_bt_ties_dropped"] = "not installed"
    else:

        def crowdkit_fit() -> Scores:
            frame = pd.DataFrame(
                {
                    "worker": workers[~ties],
                    "left": left[~ties],
                    "right": right[~ties],
                    "label": winners[~ties],
                }
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                series = NoisyBradleyTerry().fit_predict(frame)
            return {str(k): float(v) for k, v in series.items()}

        record("crowdkit_noisy_bt_ties_dropped", crowdkit_fit)

    return {
        "dataset": "urbano_music_pairs",
        "n_comparisons": len(rows),
        "n_ties": int(ties.sum()),
        "n_items": len(group),
        "n_queries": len(set(query.values())),
        "n_scored_pairs": sum(1 for a, b in pairs if group[a] != group[b]),
        "fit": "global (one fit over all queries; scores compared within a query)",
        "models": {k: v for k, v in results.items() if not k.startswith("_")},
        "tie_parameters": results.get("_tie_parameters", {}),
    }


def _synthetic(seed: int, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 1.0, n)
    i = rng.integers(0, n, m)
    j = rng.integers(0, n - 1, m)
    j = j + (j >= i)
    win = rng.random(m) < 1.0 / (1.0 + np.exp(-(theta[i] - theta[j])))
    return np.where(win, i, j), np.where(win, j, i)


def run_bt_scale(seed: int = 0, n_entities: int = 10_000, n_comparisons: int = 1_000_000) -> dict:
    """Time :func:`bradley_terry` against choix on synthetic data; compare the estimates.

    Two matched pairs: ``alpha=0`` (plain maximum likelihood) against
    ``choix.ilsr_pairwise(alpha=0)``, and ``alpha=0.01`` against
    ``choix.opt_pairwise(alpha=0.01)`` (both minimise ``-loglik + alpha * ||theta||^2``).
    Scores are centred before comparing.
    """
    winners, losers = _synthetic(seed, n_entities, n_comparisons)
    entities = list(range(n_entities))
    out: dict[str, Any] = {"n_entities": n_entities, "n_comparisons": n_comparisons, "seed": seed}

    def ours(alpha: float) -> tuple[np.ndarray, float]:
        best = np.inf
        scores = np.zeros(n_entities)
        for _ in range(3):  # best of three: the timing of a warm process
            start = time.perf_counter()
            r = bradley_terry(winners, losers, alpha=alpha, entities=entities)
            best = min(best, time.perf_counter() - start)
            scores = r.scores
        return scores, best

    ours_ml, t_ml = ours(0.0)
    ours_map, t_map = ours(0.01)
    out["expertloop_seconds_alpha0"] = round(t_ml, 3)
    out["expertloop_seconds_alpha0.01"] = round(t_map, 3)
    try:
        import choix
    except ImportError:
        out["choix"] = "not installed"
        return out
    data = list(zip(winners.tolist(), losers.tolist(), strict=True))
    timings = {}
    start = time.perf_counter()
    ilsr = choix.ilsr_pairwise(n_entities, data, alpha=0.0)
    timings["ilsr_pairwise"] = time.perf_counter() - start
    # choix's default tol (1e-5 on the mean relative Newton step) stops ~1e-3 short of the
    # optimum at this size, so the reference is run to a tight tolerance.
    start = time.perf_counter()
    opt = choix.opt_pairwise(n_entities, data, alpha=0.01, tol=OPT_TOL)
    timings["opt_pairwise"] = time.perf_counter() - start
    diff_ilsr = float(np.abs(ours_ml - (ilsr - ilsr.mean())).max())
    diff_opt = float(np.abs(ours_map - (opt - opt.mean())).max())

    def objective(theta: np.ndarray, alpha: float) -> float:
        """choix's objective: -loglik + alpha * ||theta||^2 (lower is better)."""
        d = theta[winners] - theta[losers]
        return float(np.logaddexp(0.0, -d).sum() + alpha * (theta @ theta))

    fastest = min(timings, key=lambda k: timings[k])
    ours_matched = t_ml if fastest == "ilsr_pairwise" else t_map
    out.update(
        {
            "choix_ilsr_pairwise_seconds": round(timings["ilsr_pairwise"], 3),
            "choix_opt_pairwise_seconds": round(timings["opt_pairwise"], 3),
            "choix_opt_pairwise_tol": OPT_TOL,
            "max_abs_diff_vs_ilsr_alpha0": diff_ilsr,
            "max_abs_diff_vs_opt_pairwise_alpha0.01": diff_opt,
            "objective_alpha0.01_expertloop": objective(ours_map, 0.01),
            "objective_alpha0.01_choix_opt": objective(opt - opt.mean(), 0.01),
            "choix_fastest": fastest,
            "speedup_vs_choix_fastest": round(timings[fastest] / ours_matched, 1),
            "speedup_vs_ilsr_pairwise": round(timings["ilsr_pairwise"] / t_ml, 1),
            "speedup_vs_opt_pairwise": round(timings["opt_pairwise"] / t_map, 1),
            "max_abs_diff_ok": max(diff_ilsr, diff_opt) < 1e-4,
        }
    )
    return out


def main(argv: list[str]) -> None:
    args = [a for a in argv if not a.startswith("--")]
    data_dir = Path(args[0]) if args else Path(__file__).resolve().parents[2] / "shared" / "data"
    report: dict[str, Any] = {"pairwise": run_pairwise(data_dir)}
    if "--scale" in argv:
        report["bt_scale"] = run_bt_scale()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
