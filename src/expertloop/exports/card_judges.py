"""The dataset card's model-judges section: the triage rule applied in the stopping rule,
each judge's measured reliability (on the audit sample, in words where there is no figure to
give), and each judge's calibration against the experts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expertloop.exports._card_format import as_json as _json
from expertloop.exports._card_format import fmt as _fmt

__all__ = ["judges_section"]


def _interval(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f" ({low:.2f}-{high:.2f})"


def judges_section(judges: Mapping[str, Any] | None) -> list[str]:
    """The model judges' section: the triage rule and each judge's measured agreement with
    the experts (accuracy and Cohen's kappa with their intervals)."""
    if not judges:
        return []
    lines = ["## Model judges", ""]
    if judges.get("triage") is not None:
        lines += _triage(judges["triage"])
    rows = judges.get("calibration") or []
    if rows:
        lines += [
            "Agreement of each model judge with the experts (gold, or the consensus of at "
            "least two experts), on the items both judged; unsure verdicts are not compared.",
            "",
            "| judge | model | key | items | unsure | accuracy | Cohen's kappa |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            accuracy = _fmt(row["accuracy"]) + _interval(
                row["accuracy_lower"], row["accuracy_upper"]
            )
            kappa = _fmt(row["kappa"]) + _interval(row["kappa_lower"], row["kappa_upper"])
            judge, model, key = (
                str(row[k]).replace("|", "\\|") for k in ("judge", "model", "key")
            )
            lines.append(
                f"| {judge} | {model} | {key} | {row['n']} | "
                f"{row['unsure']} | {accuracy} | {kappa} |"
            )
        lines.append("")
    else:
        lines += ["No judge verdict could be compared with the experts yet.", ""]
    return lines


def _triage(triage: Mapping[str, Any]) -> list[str]:
    """What triage did: the judges weighed in the stopping rule, the policy, and what the
    last model fit measured of each judge."""
    if not triage.get("applied"):
        why = (
            "adaptive redundancy is off, so no judge changed how many answers an item got"
            if triage.get("judges") else "it names no judge, so it was not applied"
        )
        return [f"A triage rule is recorded (`{_json(triage.get('rule'))}`), but {why}.", ""]
    policy = triage.get("policy") or {}
    names = ", ".join(f"`{n}`" for n in triage.get("judges") or [])
    lines = [
        f"Triage applied: the sure verdicts of the model judge(s) {names} were weighed with "
        "the expert answers in adaptive redundancy's stopping rule, each judge fitted as one "
        "more annotator whose reliability was estimated with the experts' on items with two "
        "expert answers or more. An item stopped collecting once its consensus confidence "
        f"reached {policy.get('target_confidence')} after {policy.get('min_answers')} expert "
        f"answer(s), and at most {policy.get('max_answers')}. Verdicts are model "
        "suggestions: never counted as answers, never exported as answers; an unsure or "
        "inconsistent verdict, or one of a judge the fit could not measure, weighed nothing.",
        "",
        _audit_sentence(policy),
        "",
    ]
    measured = triage.get("measured") or {}
    if measured:
        lines += [
            "| judge | agreement with the experts on the audit sample | Cohen's kappa | "
            "audited items compared | agreement on the overlap | items compared | accuracy "
            "in the stopping model | verdicts fitted | verdicts |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        minimum = int(triage.get("audit_min_items") or 20)
        for name, m in sorted(measured.items()):
            audited, kappa, compared = _audited(m.get("audit"), policy, minimum)
            lines.append(
                f"| {str(name).replace('|', chr(92) + '|')} | {audited} | {kappa} | "
                f"{compared} | {_fmt(m.get('agreement'))} | {m.get('compared', 0)} | "
                f"{_fmt(m.get('accuracy'))} | {m.get('fitted_verdicts', 0)} | "
                f"{m.get('verdicts', 0)} |"
            )
        lines += [
            "",
            "The agreement on the audit sample is the judge's reliability: on items that got "
            "their expert answers whatever the judge said, against gold where the item has "
            "it, else the experts' strict majority (items where the experts tied are not "
            "compared), with 95% intervals (Wilson; bootstrap for kappa); below "
            f"{minimum} items compared no figure is given. The agreement on the overlap (the "
            "items with two expert answers or more) and the stopping model's accuracy are "
            "what the stopping rule fitted the judge on: where an item may stop at one expert "
            "answer, those items are mostly ones where the judge contradicted the first "
            "expert, so both read well below the judge's real accuracy.",
            "",
            f"Measured by the model fit of {triage.get('model_fitted_at')}.",
            "",
        ]
    else:
        lines += [
            "No judge has been measured against the experts yet (no verdict on an item with "
            "two expert answers when the model was last fitted), so none weighed in.",
            "",
        ]
    return lines


def _audited(
    audit: Mapping[str, Any] | None, policy: Mapping[str, Any], minimum: int
) -> tuple[str, str, str]:
    """A judge's agreement on the audit sample, its kappa and its count, in words where
    there is no figure to give."""
    if not _has_audit_sample(policy):
        return "no audit sample (audit share 0)", "n/a", "0"
    if audit is None:
        return "not measured yet (the next model fit measures it)", "n/a", "n/a"
    n = int(audit.get("n") or 0)
    if n < minimum or audit.get("accuracy") is None:
        return "not enough audited items yet", "n/a", str(n)
    accuracy = _fmt(audit["accuracy"]) + _interval(
        audit.get("accuracy_lower"), audit.get("accuracy_upper")
    )
    kappa = _fmt(audit.get("kappa")) + _interval(
        audit.get("kappa_lower"), audit.get("kappa_upper")
    )
    return accuracy, kappa, str(n)


def _has_audit_sample(policy: Mapping[str, Any]) -> bool:
    """Whether some items get two expert answers whatever the judges say."""
    return float(policy.get("audit_share") or 0.0) > 0 or int(policy.get("min_answers") or 1) >= 2


def _audit_sentence(policy: Mapping[str, Any]) -> str:
    """The audit share of the triage's policy, in words."""
    share = float(policy.get("audit_share") or 0.0)
    if int(policy.get("min_answers") or 1) >= 2:
        return (
            f"Audit share: {share:g}; with at least {policy.get('min_answers')} expert "
            "answers on every item, every item is in the audit sample on which the judges' "
            "agreement with the experts was measured."
        )
    if share <= 0:
        return (
            "Audit share: 0 (no audit sample): the judges were measured only on items that "
            "got a second expert answer because their confidence was short of the target, "
            "mostly items where a judge contradicted the first expert, so the figures below "
            "are biased low (a judge right 85% of the time can read under 50%). An audit "
            "share (e.g. 0.1: one item in ten gets a second expert answer whatever the "
            "judges say) would measure them on a sample that does not depend on their "
            "verdicts."
        )
    extra = min(int(policy.get("min_answers") or 1) + 1, int(policy.get("max_answers") or 1))
    return (
        f"Audit share: {share:g}: that share of the items (chosen by project and item id) "
        f"collected at least {extra} expert answers whatever their confidence, the audit "
        "sample on which the judges' agreement with the experts was measured."
    )
