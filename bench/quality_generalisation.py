"""How ``aggregate(method="auto")`` generalises: leave-one-dataset-out and simulated crowds.

The ``auto`` rule has three settings: how many standard errors ``guard_z`` majority vote's
held-out agreement must beat a model's by for the guard to reject that model (``inf``: no
guard); ``combine``, how the held-out log-likelihoods of the candidates left become the
answer (``"best"``: the best one alone; ``"stacking"``: the mixture whose weights give the
held-out answers the best log score, Yao et al. 2018); and, with ``"best"``, ``simple_z``:
how many paired standard errors the best candidate's held-out log-likelihood must beat the
better majority model's by (majority vote or the shared one-coin model) to be used instead
of it (0: always the best). A fourth, private switch adds the community Dawid-Skene as a
candidate (``_select.COMMUNITY_CANDIDATE``); its held-out scores are always computed, and
each setting says whether the rule sees them. Scoring the shipped settings on the
data they were chosen with says little about data nobody has seen, so this module scores the
*procedure* of choosing them:

- **Leave one dataset out** (real data with gold): for each dataset, the settings are chosen
  on the other datasets (by :func:`objective`), then scored on the one left out.
- **Leave one scenario out** (:mod:`expertloop.quality.simulation`, truth known): the same
  over the simulated regimes, several seeds each.
- **Shipped settings**: the defaults of :mod:`expertloop.quality._select`, per dataset and per
  scenario, against majority vote and the best single candidate.

The family of settings: ``guard_z`` in {0.5, 1, 2, 3, 4, inf} times ``combine`` in {best,
stacking}, times ``simple_z`` in {0, 0.5, 1, 2, 3, 4} with ``best``; the objective counts a
loss below majority vote three times; each with and without the community candidate.
``simple_z`` alone (no guard, ``best``, the shipped candidates) is also chosen leave-one-out
on its own (``leave_one_out_simple_z``). The best single model everywhere is the best of all
nine candidates, the community model included. The held-out scores are
computed once per data set (the folds do not depend on the setting), so each setting costs
nothing more.

- **The lookalike candidate** (``lookalike_candidate``; ``_select.LOOKALIKE_CANDIDATE``, off):
  ``auto`` with the shipped settings without and with the lookalike Dawid-Skene as a tenth
  candidate, on the real sets, the simulated crowds and ``2 x sim-seeds`` crowds of
  :mod:`expertloop.quality._sim_correlated` (hard items whose distractor pulls every
  worker). Its held-out scores are always computed; the other sections leave it out while
  the switch is off. With 8 seeds (4 December 2026): 16 correlated crowds, ``auto`` 0.11
  points below the best of the other nine without it, 0.30 above with it (taken on 6, none
  below majority vote); 64 simulated crowds 0.79 and 0.80 points below (taken on 8; 4 below
  majority vote either way); real sets 1.13 points below either way, +4.63 on
  ``zheng_d_duck`` and -4.45 on ``zheng_s_face`` (below majority vote).

Usage: ``python bench/quality_generalisation.py ../shared/data [--sim-seeds 4]`` prints one
JSON object; ``bench/quality.py`` includes it.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from expertloop.quality import _select
from expertloop.quality import aggregation as agg
from expertloop.quality._agg_common import Observations, pick_labels, prepare
from expertloop.quality.simulation import SCENARIOS, simulate_answers

Setting = tuple[float, str, float, bool]  # (guard_z, combine, simple_z, community)
SIMPLE_ZS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0)
SETTINGS: tuple[Setting, ...] = tuple(
    (z, c, s, community)
    for community in (False, True)
    for c in _select.COMBINE_RULES
    for z in (0.5, 1.0, 2.0, 3.0, 4.0, float("inf"))  # guard_z inf: no guard
    for s in (SIMPLE_ZS if c == "best" else (0.0,))  # simple_z applies to "best" only
)
SIMPLE_Z_SETTINGS: tuple[Setting, ...] = tuple(
    (float("inf"), "best", s, _select.COMMUNITY_CANDIDATE) for s in SIMPLE_ZS
)
COMMUNITY_SETTINGS: tuple[Setting, ...] = tuple(
    (float("inf"), "best", s, True) for s in SIMPLE_ZS
)
SHIPPED: Setting = (
    _select.GUARD_Z,
    _select.COMBINE,
    _select.SIMPLE_Z if _select.COMBINE == "best" else 0.0,
    _select.COMMUNITY_CANDIDATE,
)


@dataclass
class Case:
    """One data set: each candidate's posteriors on all answers, its held-out scores."""

    name: str
    obs: Observations
    posteriors: dict[str, np.ndarray]
    scores: _select.HeldOut
    score: Callable[[np.ndarray], float]  # accuracy (points) of a posterior matrix

    def single(self, lookalike: bool | None = None) -> dict[str, float]:
        """Each candidate's accuracy; the lookalike model only where it is a candidate
        (``lookalike``, by default ``_select.LOOKALIKE_CANDIDATE``)."""
        keep = _select.LOOKALIKE_CANDIDATE if lookalike is None else lookalike
        out = {"majority_vote": self.score(self._mv())}
        out.update(
            {
                name: self.score(p)
                for name, p in self.posteriors.items()
                if keep or name != _select.LOOKALIKE
            }
        )
        return out

    def _mv(self) -> np.ndarray:
        # Majority vote as the model it is the estimate of (its labels are the majority's).
        return _select.majority_model(self.obs)[0]

    def rule(self, setting: Setting, lookalike: bool | None = None) -> tuple[float, str]:
        """``auto``'s accuracy with this setting, and what it used (with weights); the
        lookalike candidate as ``lookalike`` says (by default ``_select.LOOKALIKE_CANDIDATE``)."""
        guard_z, combine, simple_z, community = setting
        drop = set() if community else {_select.COMMUNITY}
        if not (_select.LOOKALIKE_CANDIDATE if lookalike is None else lookalike):
            drop.add(_select.LOOKALIKE)
        scores = _select.HeldOut(
            {n: v for n, v in self.scores.log_likelihood.items() if n not in drop},
            {n: v for n, v in self.scores.hits.items() if n not in drop},
        )
        weights = _select.select(
            self.obs, scores, guard_z=guard_z, combine=combine, simple_z=simple_z
        ).weights
        post = sum(
            w * (self._mv() if name == _select.MAJORITY else self.posteriors[name])
            for name, w in weights.items()
        )
        used = " + ".join(f"{w:.2f} {n}" for n, w in sorted(weights.items(), key=lambda x: -x[1]))
        return self.score(np.asarray(post)), used


def _fit_all(workers: Any, items: Any, labels: Any) -> dict[str, np.ndarray]:
    out = {}
    for name, (public, options) in _select.CANDIDATES.items():
        if name == _select.MAJORITY:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[name] = np.asarray(
                getattr(agg, public)(workers, items, labels, **options).posteriors
            )
    return out


def make_case(name: str, workers: Any, items: Any, labels: Any, truth_of: Callable) -> Case:
    obs = prepare(workers, items, labels)
    return Case(
        name=name,
        obs=obs,
        posteriors=_fit_all(workers, items, labels),
        scores=_select.held_out_scores(obs, seed=0, fitters=_select._FITTERS),
        score=lambda post: truth_of(obs, pick_labels(post)),
    )


def real_cases(data_dir: Path) -> list[Case]:
    from quality import categorical_datasets, load_categorical  # bench/quality.py

    cases = []
    for folder in categorical_datasets(data_dir):
        (w, t, lab), gold = load_categorical(folder)

        def truth_of(obs: Observations, codes: np.ndarray, gold: dict = gold) -> float:
            labels = dict(zip(obs.item_ids.tolist(), obs.classes[codes].tolist(), strict=True))
            return 100 * float(np.mean([labels[k] == v for k, v in gold.items() if k in labels]))

        cases.append(make_case(folder.name, w, t, lab, truth_of))
    return cases


def simulated_cases(seeds: int) -> list[Case]:
    cases = []
    for scenario in SCENARIOS:
        for seed in range(seeds):
            sim = simulate_answers(scenario, seed=1000 + seed)

            def truth_of(obs: Observations, codes: np.ndarray, sim: Any = sim) -> float:
                return 100 * sim.accuracy(obs.item_ids, obs.classes[codes])

            cases.append(
                make_case(f"{scenario}/{seed}", sim.workers, sim.items, sim.labels, truth_of)
            )
    return cases


def correlated_cases(seeds: int) -> list[Case]:
    """Crowds of :mod:`expertloop.quality._sim_correlated` (hard items with a distractor
    class that pulls every worker), two and three classes, ``seeds`` of each."""
    from expertloop.quality._sim_correlated import simulate_correlated

    cases = []
    for seed in range(seeds):
        for k in (2, 3):
            sim = simulate_correlated(seed=seed, n_classes=k)

            def truth_of(obs: Observations, codes: np.ndarray, sim: Any = sim) -> float:
                return 100 * sim.accuracy(obs.item_ids, obs.classes[codes])

            cases.append(
                make_case(f"correlated/{k}/{seed}", sim.workers, sim.items, sim.labels, truth_of)
            )
    return cases


def lookalike_effect(cases: list[Case]) -> dict[str, Any]:
    """The lookalike Dawid-Skene as a candidate of ``auto`` (shipped setting otherwise): per
    case its own accuracy, and ``auto`` without and with it, against majority vote and the
    best of the other candidates."""
    per: dict[str, dict[str, Any]] = {}
    for case in cases:
        others = case.single(lookalike=False)
        best = max(others.values())
        without, with_it = case.rule(SHIPPED, lookalike=False), case.rule(SHIPPED, lookalike=True)
        per[case.name] = {
            "lookalike_dawid_skene": round(case.single(lookalike=True)[_select.LOOKALIKE], 2),
            "auto_without": round(without[0], 2),
            "auto_with": round(with_it[0], 2),
            "auto_with_chose": with_it[1],
            "majority_vote": round(others["majority_vote"], 2),
            "best_other": round(best, 2),
        }
    rows = list(per.values())

    def mean(key: str, ref: str) -> float:
        return round(float(np.mean([r[key] - r[ref] for r in rows])), 2)

    return {
        "per_case": per,
        "auto_without_gap_to_best_other_points": mean("auto_without", "best_other"),
        "auto_with_gap_to_best_other_points": mean("auto_with", "best_other"),
        "lookalike_gap_to_best_other_points": mean("lookalike_dawid_skene", "best_other"),
        "auto_with_below_majority_vote": sum(
            r["auto_with"] < r["majority_vote"] - 1e-9 for r in rows
        ),
        "auto_without_below_majority_vote": sum(
            r["auto_without"] < r["majority_vote"] - 1e-9 for r in rows
        ),
        "auto_with_chose_lookalike": sum(_select.LOOKALIKE in r["auto_with_chose"] for r in rows),
    }


def table(cases: list[Case]) -> dict[str, dict[str, Any]]:
    """Per case: the best single candidate, majority vote, and every setting's accuracy."""
    out = {}
    for case in cases:
        single = case.single()
        best = max(single.values())
        rules = {s: case.rule(s) for s in (*SETTINGS, SHIPPED)}
        out[case.name] = {
            "single": single,
            "best": best,
            "mv": single["majority_vote"],
            "rules": rules,
        }
    return out


def objective(rows: list[dict[str, Any]], setting: Setting) -> float:
    """Mean gap to the best single candidate, with a loss below majority vote counted thrice."""
    gap = [r["rules"][setting][0] - r["best"] for r in rows]
    below = [min(r["rules"][setting][0] - r["mv"], 0.0) for r in rows]
    return float(np.mean(gap) + 2 * np.mean(below))


def leave_one_out(
    rows: dict[str, dict[str, Any]],
    group: Callable[[str], str],
    settings: tuple[Setting, ...] = SETTINGS,
) -> dict[str, Any]:
    """Choose the setting on every group but one, score it on that one; for each group."""
    per: dict[str, Any] = {}
    for held in sorted({group(n) for n in rows}):
        train = [r for n, r in rows.items() if group(n) != held]
        # Ties go to the weaker guard (the larger guard_z), then to the single best model,
        # then to the weaker simplicity rule: intervene only where it helped.
        setting = max(
            settings,
            key=lambda s: (round(objective(train, s), 9), s[0], s[1] == "best", -s[2], not s[3]),
        )
        test = [r for n, r in rows.items() if group(n) == held]
        gaps = [r["rules"][setting][0] - r["best"] for r in test]
        vs_mv = [r["rules"][setting][0] - r["mv"] for r in test]
        per[held] = {
            "chose": {
                "guard_z": str(setting[0]),
                "combine": setting[1],
                "simple_z": setting[2],
                "community": setting[3],
            },
            "gap_to_best_single_points": round(float(np.mean(gaps)), 2),
            "vs_majority_vote_points": round(float(np.mean(vs_mv)), 2),
            "below_majority_vote": int(sum(v < -1e-9 for v in vs_mv)),
            "cases": len(test),
        }
    return {
        "per_held_out": per,
        "mean_gap_to_best_single_points": round(
            float(np.mean([p["gap_to_best_single_points"] for p in per.values()])), 2
        ),
        "held_out_below_majority_vote": sum(p["below_majority_vote"] for p in per.values()),
    }


def shipped(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    per = {}
    for name, r in rows.items():
        acc, chose = r["rules"][SHIPPED]
        per[name] = {
            "auto": round(acc, 2),
            "auto_chose": chose,
            "majority_vote": round(r["mv"], 2),
            "best_single": max(r["single"], key=r["single"].get),
            "single": {m: round(v, 2) for m, v in r["single"].items()},
            "gap_to_best_single_points": round(acc - r["best"], 2),
        }
    gaps = [p["gap_to_best_single_points"] for p in per.values()]
    below = [p["auto"] < p["majority_vote"] - 1e-9 for p in per.values()]
    return {
        "per_case": per,
        "mean_gap_to_best_single_points": round(float(np.mean(gaps)), 2),
        "below_majority_vote": int(sum(below)),
        "worst_vs_majority_vote_points": round(
            min(p["auto"] - p["majority_vote"] for p in per.values()), 2
        ),
    }


def fixed_models(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each single candidate used everywhere: how far from the best, how often below MV."""
    out = {}
    names = next(iter(rows.values()))["single"]
    for m in names:
        gaps = [r["single"][m] - r["best"] for r in rows.values()]
        below = [r["single"][m] < r["mv"] - 1e-9 for r in rows.values()]
        out[m] = {
            "mean_gap_to_best_single_points": round(float(np.mean(gaps)), 2),
            "below_majority_vote": int(sum(below)),
        }
    return out


def every_setting(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each setting of the family on every case: mean gap, how often and how far below MV."""
    out = {}
    for setting in SETTINGS:
        gaps = [r["rules"][setting][0] - r["best"] for r in rows.values()]
        vs_mv = [r["rules"][setting][0] - r["mv"] for r in rows.values()]
        name = f"guard_z={setting[0]:g},combine={setting[1]},simple_z={setting[2]:g}"
        out[name + (",community" if setting[3] else "")] = {
            "mean_gap_to_best_single_points": round(float(np.mean(gaps)), 2),
            "below_majority_vote": int(sum(v < -1e-9 for v in vs_mv)),
            "worst_vs_majority_vote_points": round(min(vs_mv), 2),
        }
    return out


def run_generalisation(data_dir: Path, sim_seeds: int = 4) -> dict[str, Any]:
    real_c, sims_c = real_cases(data_dir), simulated_cases(sim_seeds)
    lookalike = {
        "real": lookalike_effect(real_c),
        "simulated": lookalike_effect(sims_c),
        "correlated": lookalike_effect(correlated_cases(sim_seeds)),
    }
    real = table(real_c)
    sims = table(sims_c)
    by_scenario = {}
    for scenario in SCENARIOS:
        part = {n: r for n, r in sims.items() if n.startswith(scenario + "/")}
        s = shipped(part)
        by_scenario[scenario] = {k: v for k, v in s.items() if k != "per_case"}
    sim_summary = shipped(sims)
    return {
        "settings_family": {
            "guard_z": sorted({str(z) for z, _, _, _ in SETTINGS}),
            "combine": list(_select.COMBINE_RULES),
            "simple_z": list(SIMPLE_ZS),
            "community": [False, True],
        },
        "shipped": {
            "guard_z": str(SHIPPED[0]),
            "combine": SHIPPED[1],
            "simple_z": SHIPPED[2],
            "community": SHIPPED[3],
        },
        "real": {
            "shipped": shipped(real),
            "leave_one_dataset_out": leave_one_out(real, lambda n: n),
            "leave_one_dataset_out_simple_z": leave_one_out(real, lambda n: n, SIMPLE_Z_SETTINGS),
            "leave_one_dataset_out_community_simple_z": leave_one_out(
                real, lambda n: n, COMMUNITY_SETTINGS
            ),
            "fixed_models": fixed_models(real),
            "every_setting": every_setting(real),
        },
        "simulated": {
            "seeds_per_scenario": sim_seeds,
            "shipped_by_scenario": by_scenario,
            "shipped_mean_gap_to_best_single_points": sim_summary["mean_gap_to_best_single_points"],
            "shipped_below_majority_vote": sim_summary["below_majority_vote"],
            "shipped_per_case": sim_summary["per_case"],
            "leave_one_scenario_out": leave_one_out(sims, lambda n: n.split("/")[0]),
            "leave_one_scenario_out_simple_z": leave_one_out(
                sims, lambda n: n.split("/")[0], SIMPLE_Z_SETTINGS
            ),
            "leave_one_scenario_out_community_simple_z": leave_one_out(
                sims, lambda n: n.split("/")[0], COMMUNITY_SETTINGS
            ),
            "fixed_models": fixed_models(sims),
            "every_setting": every_setting(sims),
        },
        "lookalike_candidate": {"shipped": _select.LOOKALIKE_CANDIDATE, **lookalike},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--sim-seeds", type=int, default=4)
    args = parser.parse_args(argv)
    json.dump(run_generalisation(args.data_dir, args.sim_seeds), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main())
