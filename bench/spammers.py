"""Do the worker rules pause injected spammers, and only them? And what accuracy comes back?

Usage::

    python bench/spammers.py ../shared/data            # every categorical dataset
    python bench/spammers.py ../shared/data --datasets zheng_d_duck snow_rte --seeds 2

Into each real categorical dataset (``labels.csv`` + ``gold.csv``, read with the loaders of
``bench/quality.py``) it injects synthetic spammers of one kind at a time:

- ``uniform``: a class drawn uniformly at random on every item;
- ``always_first``: always the first of the project's options (the classes in sorted order,
  as a label project lists them);
- ``copier``: copies one real worker's answers on the items that worker did;
- ``adversarial``: the least likely class (the one the real workers gave least on the item).

As a project would run: a share of the items (``--gold-share``, default 0.2) carry gold known
to the server; accuracy is scored on the other items only. Spammers number 10% of the real
workers (at least 5) and each answers as many items as the median real worker, at least 60
(spammers work a lot: that is the point of spamming). Then it runs exactly the server's
decision (``expertloop.domain.worker_rules.evaluate_rules`` with the default rules, whose
thresholds are set by principle in that module, never fitted to these datasets) on the
evidence the server would build: gold answers, the class channel (Dawid-Skene for the
spammer score), the choices made. Precision and recall of the automatic pause are per kind
and dataset; the accuracy of ``aggregate(method="auto")`` on the held-out gold items is given
before injection, with the spammers, and with every paused worker's answers removed.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from expertloop.domain.worker_rules import (
    ChoiceEvidence,
    Evidence,
    GoldEvidence,
    LabelEvidence,
    WorkerRules,
    evaluate_rules,
)
from expertloop.quality import aggregate, spammer_score
from quality import categorical_datasets, load_categorical

KINDS = ("uniform", "always_first", "copier", "adversarial")


def _inject(
    kind: str,
    workers: list[str],
    tasks: list[str],
    labels: list[str],
    classes: list[str],
    rng: np.random.Generator,
) -> tuple[list[str], list[str], list[str], set[str]]:
    per_worker = Counter(workers)
    n_real = len(per_worker)
    n_spam = max(5, round(0.1 * n_real))
    n_items = max(int(np.median(list(per_worker.values()))), 60)
    all_tasks = sorted(set(tasks))
    n_items = min(n_items, len(all_tasks))
    votes: dict[str, Counter[str]] = {}
    by_worker: dict[str, list[tuple[str, str]]] = {}
    for w, t, lab in zip(workers, tasks, labels, strict=True):
        votes.setdefault(t, Counter())[lab] += 1
        by_worker.setdefault(w, []).append((t, lab))
    real = sorted(per_worker)
    out_w, out_t, out_l = list(workers), list(tasks), list(labels)
    spammers = set()
    for s in range(n_spam):
        name = f"spam-{kind}-{s}"
        spammers.add(name)
        if kind == "copier":
            source = real[int(rng.integers(len(real)))]
            picked = by_worker[source]
        else:
            chosen = rng.choice(len(all_tasks), size=n_items, replace=False)
            picked = [(all_tasks[i], "") for i in chosen]
        for t, copied in picked:
            if kind == "uniform":
                lab = classes[int(rng.integers(len(classes)))]
            elif kind == "always_first":
                lab = classes[0]
            elif kind == "copier":
                lab = copied
            else:
                counts = votes.get(t, Counter())
                fewest = min(counts.get(c, 0) for c in classes)
                options = [c for c in classes if counts.get(c, 0) == fewest]
                lab = options[int(rng.integers(len(options)))]
            out_w.append(name)
            out_t.append(t)
            out_l.append(lab)
    return out_w, out_t, out_l, spammers


def _accuracy(workers: list[str], tasks: list[str], labels: list[str],
              held_out: dict[str, str]) -> float:
    result = aggregate(workers, tasks, labels, seed=0)
    predicted = dict(zip(result.item_ids.tolist(), result.labels.tolist(), strict=True))
    scored = [predicted[t] == g for t, g in held_out.items() if t in predicted]
    return float(np.mean(scored)) if scored else float("nan")


def _paused(
    workers: list[str], tasks: list[str], labels: list[str], gold_known: dict[str, str],
    classes: list[str], rules: WorkerRules,
) -> tuple[set[str], Counter[str]]:
    """Who the server's rules would pause, on the evidence the server would build."""
    ids = list(range(1, len(workers) + 1))
    code = {c: n for n, c in enumerate(classes)}
    on_gold = [k for k, t in enumerate(tasks) if t in gold_known]
    evidence = Evidence(
        gold=GoldEvidence(
            [workers[k] for k in on_gold],
            [labels[k] == gold_known[tasks[k]] for k in on_gold],
            [ids[k] for k in on_gold],
        ),
        labels=LabelEvidence(workers, tasks, [code[x] for x in labels], ids,
                             n_classes=len(classes)),
        choices=[ChoiceEvidence(workers, labels, ids, n_options=len(classes),
                                by_position=False)],
    )
    findings = evaluate_rules(evidence, rules)
    paused = {str(f.worker) for f in findings if f.pause}
    by_rule = Counter(f.rule.value for f in findings if f.pause)
    return paused, by_rule


def _truly_bad(
    workers: list[str], tasks: list[str], labels: list[str], held_out: dict[str, str],
    classes: list[str], rules: WorkerRules,
) -> set[str]:
    """Workers that the rules' own definitions call bad when measured on the gold the rules
    never saw (20+ such answers): accuracy below the gold rule's threshold, or a spammer
    score of their true confusion below the spammer rule's bar."""
    code = {c: n for n, c in enumerate(classes)}
    counts: dict[str, np.ndarray] = {}
    for w, t, lab in zip(workers, tasks, labels, strict=True):
        if t in held_out and held_out[t] in code:
            m = counts.setdefault(w, np.zeros((len(classes), len(classes))))
            m[code[held_out[t]], code[lab]] += 1
    bad = set()
    for w, m in counts.items():
        n = m.sum()
        if n < 20:
            continue
        accuracy = np.trace(m) / n
        score = float(spammer_score(m + 0.5)[0])
        if accuracy < rules.gold_accuracy.threshold or score < rules.spammer_score.max_score:
            bad.add(w)
    return bad


def _real_report(
    paused: set[str], bad: set[str], workers: list[str], tasks: list[str],
    labels: list[str], held_out: dict[str, str],
) -> dict[str, Any]:
    """Real workers the rules paused with no spammer injected: how many are bad by the
    rules' own definitions measured on held-out gold, and their accuracy there against the
    workers kept."""
    right: dict[str, list[bool]] = {}
    for w, t, lab in zip(workers, tasks, labels, strict=True):
        if t in held_out:
            right.setdefault(w, []).append(lab == held_out[t])

    def acc(group: set[str]) -> list[float]:
        return [float(np.mean(right[w])) for w in group if len(right.get(w, [])) >= 20]

    paused_acc = acc(paused)
    kept_acc = acc(set(workers) - paused)
    return {
        "paused": len(paused),
        "paused_bad_on_heldout_gold": len(paused & bad),
        "bad_on_heldout_gold": len(bad),
        "median_heldout_accuracy_paused": round(float(np.median(paused_acc)), 3)
        if paused_acc else None,
        "median_heldout_accuracy_kept": round(float(np.median(kept_acc)), 3)
        if kept_acc else None,
    }


def run(data_dir: Path, names: list[str] | None, seeds: int, gold_share: float) -> dict[str, Any]:
    rules = WorkerRules()
    out: dict[str, Any] = {"datasets": {}}
    totals = {k: {"tp": 0, "justified": 0, "paused": 0, "injected": 0} for k in KINDS}
    deltas: dict[str, list[float]] = {k: [] for k in KINDS}
    deltas_all: dict[str, list[float]] = {k: [] for k in KINDS}
    drops: dict[str, list[float]] = {k: [] for k in KINDS}
    for folder in categorical_datasets(data_dir):
        if names and folder.name not in names:
            continue
        started = time.monotonic()
        (workers, tasks, labels), gold = load_categorical(folder)
        classes = sorted(set(labels))
        report: dict[str, Any] = {"answers": len(workers), "workers": len(set(workers)),
                                  "classes": len(classes)}
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            gold_tasks = sorted(t for t in gold if t in set(tasks))
            known = set(rng.choice(len(gold_tasks), size=max(1, round(gold_share *
                                                                     len(gold_tasks))),
                                   replace=False).tolist())
            gold_known = {gold_tasks[i]: gold[gold_tasks[i]] for i in known}
            held_out = {t: g for t, g in gold.items() if t not in gold_known}
            clean = _accuracy(workers, tasks, labels, held_out)
            real_paused, _ = _paused(workers, tasks, labels, gold_known, classes, rules)
            bad = _truly_bad(workers, tasks, labels, held_out, classes, rules)
            report.setdefault("accuracy_before", []).append(round(clean, 4))
            report.setdefault("real_workers_paused_without_spammers", []).append(
                _real_report(real_paused, bad, workers, tasks, labels, held_out))
            for kind in KINDS:
                w2, t2, l2, spammers = _inject(kind, workers, tasks, labels, classes, rng)
                paused, by_rule = _paused(w2, t2, l2, gold_known, classes, rules)
                hit = paused & spammers
                justified = paused & (spammers | bad)
                with_spam = _accuracy(w2, t2, l2, held_out)
                keep = [k for k, w in enumerate(w2) if w not in paused]
                recovered = _accuracy([w2[k] for k in keep], [t2[k] for k in keep],
                                      [l2[k] for k in keep], held_out)
                only = [k for k, w in enumerate(w2) if w not in hit]
                recovered_spam = _accuracy([w2[k] for k in only], [t2[k] for k in only],
                                           [l2[k] for k in only], held_out)
                entry = report.setdefault(kind, {"runs": []})
                entry["runs"].append({
                    "seed": seed, "spammers": len(spammers), "paused": len(paused),
                    "spammers_paused": len(hit),
                    "precision": round(len(hit) / len(paused), 4) if paused else None,
                    "precision_bad_real_counted": round(len(justified) / len(paused), 4)
                    if paused else None,
                    "recall": round(len(hit) / len(spammers), 4),
                    "paused_by_rule": dict(by_rule),
                    "accuracy_with_spammers": round(with_spam, 4),
                    "accuracy_paused_spammers_removed": round(recovered_spam, 4),
                    "accuracy_all_paused_removed": round(recovered, 4),
                })
                totals[kind]["tp"] += len(hit)
                totals[kind]["justified"] += len(justified)
                totals[kind]["paused"] += len(paused)
                totals[kind]["injected"] += len(spammers)
                deltas[kind].append(recovered_spam - with_spam)
                deltas_all[kind].append(recovered - with_spam)
                drops[kind].append(clean - with_spam)
        for kind in KINDS:
            runs = report[kind]["runs"]
            precisions = [r["precision"] for r in runs if r["precision"] is not None]
            report[kind]["precision"] = round(float(np.mean(precisions)), 4) if precisions \
                else None
            report[kind]["recall"] = round(float(np.mean([r["recall"] for r in runs])), 4)
        report["seconds"] = round(time.monotonic() - started, 1)
        out["datasets"][folder.name] = report
        print(f"{folder.name}: {report['seconds']} s", file=sys.stderr)
    out["overall"] = {
        kind: {
            "precision": round(t["tp"] / t["paused"], 4) if t["paused"] else None,
            "precision_bad_real_counted": round(t["justified"] / t["paused"], 4)
            if t["paused"] else None,
            "recall": round(t["tp"] / t["injected"], 4) if t["injected"] else None,
            "mean_accuracy_lost_to_spammers_pts": _pts(drops[kind]),
            "mean_accuracy_recovered_pts": _pts(deltas[kind]),
            "mean_accuracy_change_all_paused_removed_pts": _pts(deltas_all[kind]),
        }
        for kind, t in totals.items()
    }
    out["settings"] = {
        "rules": "defaults (expertloop.domain.worker_rules.WorkerRules)",
        "gold_share": gold_share, "seeds": seeds,
        "spammers_per_kind": "10% of the real workers, at least 5",
        "answers_per_spammer": "the median real worker's, at least 60",
        "accuracy": "aggregate(method='auto') on gold items not known to the rules",
        "precision": "injected spammers among the paused workers",
        "precision_bad_real_counted": "also counting as right a real worker who is bad by "
        "the rules' own definitions measured on held-out gold (accuracy below the gold "
        "threshold, or true spammer score below the spammer bar)",
        "accuracy_recovered": "removing the answers of the paused injected spammers "
        "(all_paused_removed: of every paused worker, real ones included)",
    }
    return out


def _pts(values: list[float]) -> float | None:
    return round(100 * float(np.mean(values)), 2) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--datasets", nargs="*", help="only these datasets (folder names)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--gold-share", type=float, default=0.2)
    args = parser.parse_args()
    print(json.dumps(run(args.data_dir, args.datasets, args.seeds, args.gold_share)))


if __name__ == "__main__":
    main()
