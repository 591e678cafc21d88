"""How a live triage project would report its judges' reliability, on real data.

Each data set of ``bench/triage.py`` (human votes and LLM-judge verdicts on the same items)
is replayed under its ``TRIAGE_POLICY`` (one expert answer minimum, audit share 0.1, target
0.95), each seed drawing another order of the votes per item. Per judge, three agreements
with the experts on its sure verdicts (``quality.calibration.audit_agreement``, 95% Wilson
intervals):

- ``reference``: on every item, against gold where the data has it (xstest), else the
  consensus (``aggregate(method="auto")``) of all the human votes: what the judge's
  agreement is with nothing held back.
- ``overlap``: on the items that ended with two answers or more, against the strict
  plurality of the answers used there: what a live project reported until 2026-12-04
  (``redundancy_models.judges[name].agreement``). Under triage those items are mostly the
  ones where the judge contradicted the first expert.
- ``audit``: on the audited items (``is_audited(seed, item, 0.1)``), against the strict
  plurality of the first two answers used there (collected whatever the judge said): what
  a live project reports now (``redundancy_models.judges[name].audit``).

Usage: ``python bench/triage_judge_reliability.py ../shared/data [--seeds 2]``; prints ONE
JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from expertloop.quality import aggregate
from expertloop.quality.calibration import audit_agreement
from expertloop.quality.redundancy import is_audited, replay

sys.path.insert(0, str(Path(__file__).resolve().parent))
from triage import DATASETS, TRIAGE_POLICY, load


def _row(result: Any) -> dict[str, Any]:
    a = result.agreement
    return {"n": a.n, "accuracy": a.accuracy, "lower": a.accuracy_lower,
            "upper": a.accuracy_upper}


def run(data_dir: Path, seeds: int) -> dict[str, Any]:
    min_answers, max_answers, target, weight, share, calibrate = TRIAGE_POLICY
    out: dict[str, Any] = {}
    for name in DATASETS:
        folder = data_dir / name
        if not (folder / "human.csv").exists():
            continue
        (w, t, lab), (jw, jt, jl), gold = load(folder)
        reference = gold or aggregate(w, t, lab).as_dict()
        judges = sorted(set(jw))
        classes = set(lab)
        # Sure verdicts only, as live (an inconsistent or invalid verdict is not compared).
        sure = [(j, i, v) for j, i, v in zip(jw, jt, jl, strict=True) if v in classes]
        entry: dict[str, Any] = {}
        for judge in judges:
            said = {i: label for j, i, label in sure if j == judge}
            whole = audit_agreement(
                {i: v for i, v in said.items() if i in reference},
                {}, {i: reference[i] for i in said if i in reference},
            )
            entry[judge] = {"reference": _row(whole), "overlap": [], "audit": []}
        for seed in range(seeds):
            # The votes in a drawn order per item, replayed in that order (shuffle=False),
            # so an item's first answers used are the first ones here.
            order = np.random.default_rng(seed).permutation(len(w))
            ws, ts, ls = ([x[k] for k in order] for x in (w, t, lab))
            result = replay(ws, ts, ls, min_answers=min_answers, max_answers=max_answers,
                            target_confidence=target, evidence_weight=weight,
                            calibration_share=share, calibrate=calibrate, seed=seed,
                            shuffle=False, judges=(jw, jt, jl), judges_in_final=False)
            used: dict[Any, list[Any]] = defaultdict(list)
            for i, label, kept in zip(ts, ls, result.used.tolist(), strict=True):
                if kept:
                    used[i].append(label)
            first = {i: v[: min(min_answers + 1, max_answers)] for i, v in used.items()}
            for judge in judges:
                said = {i: label for j, i, label in sure if j == judge and i in used}
                overlap = audit_agreement(
                    {i: v for i, v in said.items() if len(used[i]) >= 2}, used
                )
                audited = audit_agreement(
                    {i: v for i, v in said.items() if is_audited(seed, i, share)}, first
                )
                entry[judge]["overlap"].append(_row(overlap))
                entry[judge]["audit"].append(_row(audited))
        out[name] = entry
    return {"policy": list(TRIAGE_POLICY), "seeds": seeds, "datasets": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(run(args.data_dir, args.seeds)))


if __name__ == "__main__":
    main()
