"""The rules that watch workers in a project: their settings, and the decision itself.

A manager sets a project's ``rules`` (all optional; :class:`WorkerRules` holds the
defaults). :func:`evaluate_rules` turns a project's evidence (:class:`Evidence`: plain
arrays, one row per answer) into :class:`Finding` objects, each naming the worker, the
rule, the numbers behind it and a sentence a manager reads. The server's background job
(``services/worker_rules.py``) and the benchmark (``bench/spammers.py``) both call it, so
the benchmark measures exactly what the server decides. The statistics are in
:mod:`expertloop.quality.screening`.

How the defaults were chosen (by principle, not fitted to any data set):

- gold accuracy: flagged when the upper end of the 95% interval is below 0.6 after at
  least 10 gold answers: a worker whose true accuracy is 0.6 or better is flagged with
  probability at most 2.5% per evaluation.
- spammer score: Raykar & Yu's score below 0.05 after 30 answers: for two classes that is
  a Youden index (sensitivity + specificity - 1) below 0.22, i.e. a worker barely better
  than a coin, whose answers carry almost no information.
- straight-lining: Bonferroni-corrected one-sided binomial test at a project-wide 1%
  error, after 20 answers, and at least half-way from chance to always.
- too fast: off until the manager sets ``min_seconds`` (only they know the task).
- near duplicates: Jaccard of 5-character shingles of at least 0.8 on texts of 40+
  characters, 3 such answers to flag.
- pasted text: at least half of a worker's written answers (5+) were 80%+ pasted.
- copied labels: a worker agrees with an earlier worker on their 20+ shared items more
  often than independent workers would (given everyone else's answers), Bonferroni over
  pairs at a project-wide 1% (:mod:`expertloop.quality.copying`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from expertloop.domain.models import WorkerRule
from expertloop.quality import ConvergenceError, QualityInputError, dawid_skene
from expertloop.quality import screening as sc
from expertloop.quality.copying import copied_labels_screen

__all__ = [
    "ChoiceEvidence",
    "Evidence",
    "Finding",
    "GoldEvidence",
    "LabelEvidence",
    "TelemetryEvidence",
    "TextEvidence",
    "WorkerRules",
    "evaluate_rules",
    "too_fast_finding",
]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    pause: bool = Field(False, description="pause the worker in the project when flagged")


class GoldAccuracyRule(_Rule):
    pause: bool = True
    threshold: float = Field(0.6, gt=0, lt=1)
    min_answers: int = Field(10, ge=1, le=100_000)
    credible_mass: float = Field(0.95, gt=0.5, lt=1)


class SpammerScoreRule(_Rule):
    pause: bool = True
    max_score: float = Field(0.05, gt=0, lt=1)
    min_answers: int = Field(30, ge=1, le=100_000)


class TooFastRule(_Rule):
    min_seconds: float = Field(0, ge=0, le=86_400, description="0 turns the rule off")
    pause_after: int = Field(10, ge=1, le=100_000, description="fast answers before a pause")


class StraightLiningRule(_Rule):
    pause: bool = True
    alpha: float = Field(0.01, gt=0, lt=0.5)
    min_answers: int = Field(20, ge=5, le=100_000)
    min_excess: float = Field(0.5, gt=0, le=1)


class NearDuplicateRule(_Rule):
    method: Literal["minhash", "embeddings"] = Field(
        "minhash",
        description="minhash: Jaccard of character shingles (copies, light edits); "
        "embeddings: cosine of sentence embeddings (paraphrases too; needs the embeddings "
        "extra, else MinHash is used and the flag says so)",
    )
    threshold: float = Field(0.8, ge=0.3, le=1)
    embedding_threshold: float = Field(0.9, ge=0.5, le=1)
    min_chars: int = Field(40, ge=1, le=100_000)
    min_count: int = Field(3, ge=1, le=100_000)


class PastedTextRule(_Rule):
    answer_paste_share: float = Field(0.8, gt=0, le=1)
    worker_share: float = Field(0.5, gt=0, le=1)
    min_answers: int = Field(5, ge=1, le=100_000)
    min_chars: int = Field(20, ge=1, le=100_000)


class CopiedLabelsRule(_Rule):
    pause: bool = True
    alpha: float = Field(0.01, gt=0, lt=0.5, description="project-wide false-flag rate")
    min_shared: int = Field(20, ge=5, le=100_000, description="items two workers share")


class WorkerRules(BaseModel):
    """A project's rules. Every field is optional: what is left out keeps its default."""

    model_config = ConfigDict(extra="forbid")

    gold_accuracy: GoldAccuracyRule = Field(default_factory=GoldAccuracyRule)
    spammer_score: SpammerScoreRule = Field(default_factory=SpammerScoreRule)
    too_fast: TooFastRule = Field(default_factory=TooFastRule)
    straight_lining: StraightLiningRule = Field(default_factory=StraightLiningRule)
    near_duplicate: NearDuplicateRule = Field(default_factory=NearDuplicateRule)
    pasted_text: PastedTextRule = Field(default_factory=PastedTextRule)
    copied_labels: CopiedLabelsRule = Field(default_factory=CopiedLabelsRule)

    def rule(self, name: WorkerRule) -> _Rule:
        rule: _Rule = getattr(self, name.value)
        return rule


@dataclass(frozen=True)
class Finding:
    """A rule's verdict on one worker: the numbers (``details``) and what they say."""

    worker: Hashable
    rule: WorkerRule
    details: dict[str, Any]
    message: str
    pause: bool


# --- evidence -----------------------------------------------------------------------------
# Each kind is parallel sequences, one row per answer; ``answer_ids`` grow with time (a rule
# reset for a worker at answer id N looks only at their answers after N).


@dataclass
class GoldEvidence:
    workers: Sequence[Hashable]
    correct: Sequence[bool]
    answer_ids: Sequence[int]


@dataclass
class LabelEvidence:
    """The project's primary class channel: every answer's class code in ``0..n_classes-1``."""

    workers: Sequence[Hashable]
    items: Sequence[Hashable]
    labels: Sequence[int]
    answer_ids: Sequence[int]
    n_classes: int


@dataclass
class ChoiceEvidence:
    """What each answer picked, as the task type names it. ``by_position``: the choices are
    places on screen shown in a random order, so chance is ``1 / n_options``; otherwise
    chance is each choice's share among the other workers' answers."""

    workers: Sequence[Hashable]
    choices: Sequence[Hashable]
    answer_ids: Sequence[int]
    n_options: int
    by_position: bool


@dataclass
class TextEvidence:
    """Written text per answer; ``vectors`` (one row per text) are its sentence embeddings
    when the ``embeddings`` method is chosen and available."""

    workers: Sequence[Hashable]
    items: Sequence[Hashable]
    texts: Sequence[str]
    answer_ids: Sequence[int]
    vectors: Any = None


@dataclass
class TelemetryEvidence:
    workers: Sequence[Hashable]
    typed_chars: Sequence[int]
    pasted_chars: Sequence[int]
    answer_ids: Sequence[int]


@dataclass
class Evidence:
    gold: GoldEvidence | None = None
    labels: LabelEvidence | None = None
    choices: list[ChoiceEvidence] = field(default_factory=list)
    texts: TextEvidence | None = None
    telemetry: TelemetryEvidence | None = None
    # (worker, rule) -> the answer id after which the rule looks again (a manager reinstated
    # the worker or dismissed the flag then).
    since: Mapping[tuple[Hashable, WorkerRule], int] = field(default_factory=dict)


def _recent(
    workers: Sequence[Hashable], answer_ids: Sequence[int], rule: WorkerRule,
    since: Mapping[tuple[Hashable, WorkerRule], int],
) -> np.ndarray:
    if not since:
        return np.ones(len(workers), dtype=bool)
    cut = np.fromiter((since.get((w, rule), 0) for w in workers), dtype=np.int64,
                      count=len(workers))
    return np.asarray(answer_ids, dtype=np.int64) > cut


def _take(values: Sequence[Any], mask: np.ndarray) -> list[Any]:
    return [v for v, keep in zip(values, mask.tolist(), strict=True) if keep]


def evaluate_rules(evidence: Evidence, rules: WorkerRules) -> list[Finding]:
    """Every finding of every enabled rule (``too_fast`` is decided at submit instead:
    :func:`too_fast_finding`)."""
    found: list[Finding] = []
    if rules.gold_accuracy.enabled and evidence.gold is not None:
        found += _gold(evidence.gold, rules.gold_accuracy, evidence.since)
    if rules.spammer_score.enabled and evidence.labels is not None:
        found += _spammer(evidence.labels, rules.spammer_score, evidence.since)
    if rules.copied_labels.enabled and evidence.labels is not None:
        found += _copied(evidence.labels, rules.copied_labels, evidence.since)
    if rules.straight_lining.enabled:
        for choices in evidence.choices:
            found += _straight(choices, rules.straight_lining, evidence.since)
    if rules.near_duplicate.enabled and evidence.texts is not None:
        found += _duplicates(evidence.texts, rules.near_duplicate, evidence.since)
    if rules.pasted_text.enabled and evidence.telemetry is not None:
        found += _pasted(evidence.telemetry, rules.pasted_text, evidence.since)
    # One finding per (worker, rule): the first (e.g. a project's first choice channel).
    seen: set[tuple[Hashable, WorkerRule]] = set()
    unique = []
    for f in found:
        if (f.worker, f.rule) not in seen:
            seen.add((f.worker, f.rule))
            unique.append(f)
    return unique


def _gold(ev: GoldEvidence, rule: GoldAccuracyRule, since: Mapping[Any, int]) -> list[Finding]:
    keep = _recent(ev.workers, ev.answer_ids, WorkerRule.GOLD_ACCURACY, since)
    s = sc.gold_accuracy_screen(
        _take(ev.workers, keep), _take(ev.correct, keep), threshold=rule.threshold,
        min_answers=rule.min_answers, credible_mass=rule.credible_mass,
    )
    out = []
    pct = round(rule.credible_mass * 100)
    for i in np.flatnonzero(s.below):
        mean, lo, hi, n = (float(s.posterior_mean[i]), float(s.lower[i]), float(s.upper[i]),
                           int(s.n_answers[i]))
        details = {
            "accuracy": round(mean, 3), "lower": round(lo, 3), "upper": round(hi, 3),
            "credible_mass": rule.credible_mass, "gold_answers": n,
            "gold_correct": int(s.n_correct[i]), "threshold": rule.threshold,
        }
        message = (
            f"gold accuracy {mean:.2f} ({pct}% interval {lo:.2f}-{hi:.2f}) after {n} gold "
            f"answers, threshold {rule.threshold:g}"
        )
        out.append(Finding(s.worker_ids[i], WorkerRule.GOLD_ACCURACY, details, message,
                           rule.pause))
    return out


def _spammer(ev: LabelEvidence, rule: SpammerScoreRule, since: Mapping[Any, int]) -> list[Finding]:
    if len(ev.workers) == 0 or ev.n_classes < 2:
        return []
    try:
        fit = dawid_skene(ev.workers, ev.items, ev.labels, classes=list(range(ev.n_classes)))
    except (ConvergenceError, QualityInputError):
        return []  # no verdict rather than one from a model that did not fit
    assert fit.worker_confusion is not None
    keep = _recent(ev.workers, ev.answer_ids, WorkerRule.SPAMMER_SCORE, since)
    counts: dict[Hashable, int] = {}
    for w in _take(ev.workers, keep):
        counts[w] = counts.get(w, 0) + 1
    ids = fit.worker_ids.tolist()
    s = sc.spammer_screen(
        ids, fit.worker_confusion, [counts.get(w, 0) for w in ids],
        max_score=rule.max_score, min_answers=rule.min_answers,
    )
    out = []
    for i in np.flatnonzero(s.spammer):
        score, n = float(s.score[i]), int(s.n_answers[i])
        details = {"score": round(score, 4), "answers": n, "max_score": rule.max_score,
                   "classes": ev.n_classes}
        message = (
            f"spammer score {score:.3f} (0 = answers unrelated to the truth, 1 = perfect) "
            f"over {n} answers, threshold {rule.max_score:g}"
        )
        out.append(Finding(s.worker_ids[i], WorkerRule.SPAMMER_SCORE, details, message,
                           rule.pause))
    return out


def _copied(ev: LabelEvidence, rule: CopiedLabelsRule, since: Mapping[Any, int]) -> list[Finding]:
    if len(ev.workers) == 0 or ev.n_classes < 2:
        return []
    keep = _recent(ev.workers, ev.answer_ids, WorkerRule.COPIED_LABELS, since)
    try:
        s = copied_labels_screen(
            _take(ev.workers, keep), _take(ev.items, keep), _take(ev.labels, keep),
            _take(ev.answer_ids, keep), n_classes=ev.n_classes, alpha=rule.alpha,
            min_shared=rule.min_shared,
        )
    except (ConvergenceError, QualityInputError):
        return []  # no verdict rather than one from a model that did not fit
    out = []
    for pair in s.pairs:
        details = {"like_worker": pair.source, "shared_items": pair.shared,
                   "agreements": pair.agreements, "expected": pair.expected,
                   "p_value": float(f"{pair.p_value:.3g}"),
                   "alpha_each": float(f"{s.alpha_each:.3g}")}
        message = (
            f"gave the same answer as an earlier worker on {pair.agreements} of "
            f"{pair.shared} shared items where independent workers would agree on about "
            f"{pair.expected:g}, p = {pair.p_value:.2g} against a corrected threshold of "
            f"{s.alpha_each:.2g}"
        )
        out.append(Finding(pair.copier, WorkerRule.COPIED_LABELS, details, message,
                           rule.pause))
    return out


def _straight(
    ev: ChoiceEvidence, rule: StraightLiningRule, since: Mapping[Any, int]
) -> list[Finding]:
    if not len(ev.workers) or ev.n_options < 2:
        return []
    keep = _recent(ev.workers, ev.answer_ids, WorkerRule.STRAIGHT_LINING, since)
    workers, choices = _take(ev.workers, keep), _take(ev.choices, keep)
    if not workers:
        return []
    if not ev.by_position:
        return _straight_on_choices(ev, rule, workers, choices)
    s = sc.straight_lining_screen(
        workers, choices, n_options=ev.n_options, alpha=rule.alpha,
        min_answers=rule.min_answers, min_excess=rule.min_excess,
    )
    return _straight_findings(s, ev, rule)


def _straight_on_choices(
    ev: ChoiceEvidence, rule: StraightLiningRule, workers: list[Any], choices: list[Any]
) -> list[Finding]:
    """Chance of a choice for a worker: the median share of that choice among the other
    workers with enough answers (robust to a few straight-liners among them, unlike the
    pooled share), floored at half a share of one answer in ``n_options``. With fewer
    than three such workers there is no crowd to compare with: no verdict."""
    per_worker: dict[Hashable, dict[Hashable, int]] = {}
    for w, c in zip(ev.workers, ev.choices, strict=True):
        counts = per_worker.setdefault(w, {})
        counts[c] = counts.get(c, 0) + 1
    options = sorted({*ev.choices}, key=repr)
    established = {
        w: {c: counts.get(c, 0) / sum(counts.values()) for c in options}
        for w, counts in per_worker.items()
        if sum(counts.values()) >= rule.min_answers
    }
    tested = sorted(set(workers), key=repr)
    floor = 0.5 / max(ev.n_options, len(options))
    out = []
    for w in tested:
        others = [shares for other, shares in established.items() if other != w]
        if len(others) < 3:
            continue
        chance = {c: max(float(np.median([o[c] for o in others])), floor) for c in options}
        mine = [c for ww, c in zip(workers, choices, strict=True) if ww == w]
        s = sc.straight_lining_screen(
            [w] * len(mine), mine, chance=chance, alpha=rule.alpha / len(tested),
            min_answers=rule.min_answers, min_excess=rule.min_excess,
        )
        out += _straight_findings(s, ev, rule)
    return out


def _straight_findings(
    s: sc.StraightLiningScreen, ev: ChoiceEvidence, rule: StraightLiningRule
) -> list[Finding]:
    out = []
    kind = "position" if ev.by_position else "choice"
    for i in np.flatnonzero(s.straight):
        n, k = int(s.n_answers[i]), int(s.n_top[i])
        top = s.top_choice[i]
        top = top.item() if hasattr(top, "item") else top
        details = {
            "by": kind, "choice": top, "count": k, "answers": n,
            "share": round(float(s.share[i]), 3), "chance": round(float(s.chance[i]), 3),
            "p_value": float(f"{float(s.p_value[i]):.3g}"),
            "alpha_each": float(f"{s.alpha_each:.3g}"), "options": ev.n_options,
        }
        message = (
            f"the same {kind} ({top}) in {k} of {n} answers ({s.share[i]:.0%}; chance "
            f"{s.chance[i]:.0%}), p = {float(s.p_value[i]):.2g} against a corrected "
            f"threshold of {s.alpha_each:.2g}"
        )
        out.append(Finding(s.worker_ids[i], WorkerRule.STRAIGHT_LINING, details, message,
                           rule.pause))
    return out


def _duplicates(
    ev: TextEvidence, rule: NearDuplicateRule, since: Mapping[Any, int]
) -> list[Finding]:
    if len(ev.texts) < 2:
        return []
    order = np.argsort(np.asarray(ev.answer_ids, dtype=np.int64), kind="stable")
    texts = [ev.texts[i] for i in order]
    workers = [ev.workers[i] for i in order]
    items = [ev.items[i] for i in order]
    ids = [int(ev.answer_ids[i]) for i in order]
    keep = _recent(workers, ids, WorkerRule.NEAR_DUPLICATE, since)
    copied: dict[Hashable, list[dict[str, Any]]] = {}
    use_vectors = rule.method == "embeddings" and ev.vectors is not None
    if use_vectors:
        vectors = np.asarray(ev.vectors)[order]
        long_enough = [i for i, text in enumerate(texts) if len(text.strip()) >= rule.min_chars]
        found = [
            sc.DuplicatePair(long_enough[p.first], long_enough[p.second], p.similarity)
            for p in sc.similar_vector_pairs(
                vectors[long_enough], threshold=rule.embedding_threshold
            )
        ] if long_enough else []
        method, threshold = "embeddings (cosine)", rule.embedding_threshold
    else:
        found = sc.near_duplicate_pairs(texts, threshold=rule.threshold,
                                        min_chars=rule.min_chars)
        method, threshold = "minhash (Jaccard)", rule.threshold
    for pair in found:
        first, second = pair.first, pair.second  # first is the earlier answer
        if items[first] == items[second] and workers[first] == workers[second]:
            continue
        if not keep[second]:
            continue
        kind = "reused" if workers[first] == workers[second] else "copied"
        copied.setdefault(workers[second], []).append(
            {"answer_id": ids[second], "like_answer_id": ids[first], "kind": kind,
             "similarity": round(pair.similarity, 3)}
        )
    out = []
    for worker, hits in copied.items():
        # One hit per answer (the most similar earlier text).
        best: dict[int, dict[str, Any]] = {}
        for h in hits:
            if h["answer_id"] not in best or h["similarity"] > best[h["answer_id"]]["similarity"]:
                best[h["answer_id"]] = h
        if len(best) < rule.min_count:
            continue
        n_copied = sum(1 for h in best.values() if h["kind"] == "copied")
        n_reused = len(best) - n_copied
        examples = sorted(best.values(), key=lambda h: -h["similarity"])[:5]
        details = {"answers": len(best), "copied_from_others": n_copied,
                   "reused_across_items": n_reused, "threshold": threshold,
                   "method": method, "examples": examples}
        message = (
            f"{len(best)} answers nearly identical to earlier text ({method} >= "
            f"{threshold:g}): {n_copied} like another worker's, {n_reused} reused "
            f"across their own items"
        )
        out.append(Finding(worker, WorkerRule.NEAR_DUPLICATE, details, message, rule.pause))
    return out


def _pasted(ev: TelemetryEvidence, rule: PastedTextRule, since: Mapping[Any, int]) -> list[Finding]:
    keep = _recent(ev.workers, ev.answer_ids, WorkerRule.PASTED_TEXT, since)
    s = sc.paste_screen(
        _take(ev.workers, keep), _take(ev.typed_chars, keep), _take(ev.pasted_chars, keep),
        answer_paste_share=rule.answer_paste_share, min_chars=rule.min_chars,
        worker_share=rule.worker_share, min_answers=rule.min_answers,
    )
    out = []
    for i in np.flatnonzero(s.pasting):
        n, k = int(s.n_answers[i]), int(s.n_pasted[i])
        details = {"answers": n, "mostly_pasted": k, "share": round(float(s.share[i]), 3),
                   "typed_chars": int(s.typed_chars[i]), "pasted_chars": int(s.pasted_chars[i]),
                   "answer_paste_share": rule.answer_paste_share,
                   "worker_share": rule.worker_share}
        message = (
            f"{k} of {n} written answers were at least {rule.answer_paste_share:.0%} pasted "
            f"({int(s.pasted_chars[i])} characters pasted, {int(s.typed_chars[i])} typed), "
            f"threshold {rule.worker_share:.0%} of answers"
        )
        out.append(Finding(s.worker_ids[i], WorkerRule.PASTED_TEXT, details, message,
                           rule.pause))
    return out


def too_fast_finding(
    worker: Hashable, *, fast_answers: int, last_ms: int, rule: TooFastRule
) -> Finding:
    """The ``too_fast`` flag after ``fast_answers`` answers under the minimum time (kept
    as a counter at submit: O(1) per answer)."""
    pause = rule.pause and fast_answers >= rule.pause_after
    details = {"fast_answers": fast_answers, "min_seconds": rule.min_seconds,
               "last_seconds": round(last_ms / 1000, 2), "pause_after": rule.pause_after}
    message = (
        f"{fast_answers} answers faster than the project's minimum of {rule.min_seconds:g} s "
        f"(the last in {last_ms / 1000:.1f} s)"
    )
    return Finding(worker, WorkerRule.TOO_FAST, details, message, pause)
