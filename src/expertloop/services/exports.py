"""Training-ready exports and per-item consensus, computed at export time.

Two passes over the project, each streamed from a server-side cursor:

1. every answer, as compact integer codes per channel (:mod:`expertloop.exports.consensus`);
   the models that need worker parameters (Dawid-Skene and friends) are fitted on them;
2. every answered item in id order (with its answers, for free-text types and ``raw``),
   turned into rows batch by batch (:mod:`expertloop.exports.rows`).

Memory is the codes of pass 1 plus one batch of rows, whatever the project's size.
Exports are for the project's managers (and admins); gold items stay out unless asked for,
and only callers who may read gold may ask.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
from sqlalchemy import Connection

from expertloop.domain import Project, User
from expertloop.domain.policies import can_read_gold
from expertloop.errors import InputInvalid, PermissionDenied
from expertloop.exports.batch import ColumnBatch
from expertloop.exports.consensus import ConsensusBuilder, ProjectConsensus
from expertloop.exports.rows import (
    FORMATS,
    ItemRecord,
    RowCounts,
    RowOptions,
    consensus_of,
    formats_for,
    pairwise_batch_rows,
    rows_for_item,
)
from expertloop.exports.writers import Batch, arrow_schema
from expertloop.services.clock import iso_utc
from expertloop.services.projects import load_project
from expertloop.store import Database
from expertloop.store import exports as export_store
from expertloop.store import reviews as review_store
from expertloop.store.exports import ReviewScope
from expertloop.tasks import get_task_type

__all__ = [
    "CardStats",
    "ExportOptions",
    "PreparedExport",
    "iter_consensus",
    "prepare_consensus",
    "prepare_export",
    "worker_pseudonym",
]

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ExportOptions:
    """What to export. ``conversational=False`` is TRL's standard (plain string) form."""

    format: str
    conversational: bool = True
    min_confidence: float | None = None
    min_agreement: float | None = None
    include_gold: bool = False
    criterion: str | None = None
    reviewed_only: bool = False


def worker_pseudonym(secret_key: str, project_id: int, worker_id: int) -> str:
    """``w-`` and 12 hex digits of an HMAC of the worker's id: stable within a project,
    different across projects, and not reversible without the server's secret key."""
    digest = hmac.new(
        secret_key.encode(), f"worker:{project_id}:{worker_id}".encode(), hashlib.sha256
    ).hexdigest()
    return "w-" + digest[:12]


def guidelines_version(guidelines: str) -> str:
    """``sha256:`` and the first 16 hex digits of the guidelines' SHA-256."""
    return "sha256:" + hashlib.sha256(guidelines.encode()).hexdigest()[:16]


@dataclass
class CardStats:
    """The numbers a dataset card records (see ``docs/exports.md``)."""

    project_id: int
    project_name: str
    task_type: str
    format: str
    conversational: bool
    guidelines_version: str
    n_items: int
    n_answers: int
    n_workers: int
    answers_per_item: float
    agreement_alpha: float | None
    agreement_by_channel: dict[str, float | None]
    consensus_method: str
    consensus_fallbacks: dict[str, str]  # channel -> why its model gave way to a vote
    label_noise: float | None
    counts: dict[str, int]
    reviews: dict[str, int]  # the project's reviews by outcome ("pending" not yet decided)
    filters: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _check_can_export(project: Project, actor: User, *, include_gold: bool) -> None:
    # Exports carry every answer's consensus: the same people who manage the project and
    # may read its gold (managers who are members, admins); reviewers and workers may not.
    if not can_read_gold(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers can export it")
    if include_gold and not can_read_gold(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers may export gold items")


@dataclass
class _Scope:
    gold_items: set[int]
    workers: set[int] = field(default_factory=set)
    answers: int = 0
    items: set[int] = field(default_factory=set)


def _first_pass(
    db: Database,
    project: Project,
    *,
    include_gold: bool,
    reviews: ReviewScope,
    on_answers: Progress | None,
) -> tuple[ProjectConsensus, _Scope]:
    task = get_task_type(project.task_type)
    builder = ConsensusBuilder(task, project.config)
    with db.read() as conn:
        gold: dict[int, Any] = {}
        for item_id, text in export_store.iter_gold(conn, project.id):
            value = orjson.loads(text) if text is not None else None
            if value is not None:
                gold[item_id] = value
        for item_id, value in gold.items():
            builder.add_gold(item_id, value)
        scope = _Scope(gold_items=set() if include_gold else set(gold))
        fields = builder.coded_fields()
        if fields is not None:
            _first_pass_codes(conn, project.id, builder, scope, fields, reviews, on_answers)
        else:
            loads = orjson.loads
            add = builder.add
            for batch in export_store.iter_answer_batches(conn, project.id, scope=reviews):
                for item_id, worker_id, value in batch:
                    add(item_id, worker_id, loads(value))
                    if item_id not in scope.gold_items:
                        scope.workers.add(worker_id)
                        scope.answers += 1
                if on_answers is not None:
                    on_answers(len(batch))
    return builder.fit(stats_exclude=scope.gold_items), scope


def _first_pass_codes(
    conn: Connection,
    project_id: int,
    builder: ConsensusBuilder,
    scope: _Scope,
    fields: dict[str, tuple[tuple[str, ...], tuple[str | None, ...]]],
    reviews: ReviewScope,
    on_answers: Progress | None,
) -> None:
    """Pass 1 where every observation is one text field of the answer: the database
    extracts and codes the fields, numpy takes each batch of plain integer rows, and no
    answer is decoded in Python."""
    keys = list(fields)
    gold = np.fromiter(scope.gold_items, dtype=np.int64, count=len(scope.gold_items))
    for batch in export_store.iter_answer_code_batches(
        conn, project_id, [fields[k] for k in keys], scope=reviews
    ):
        width = 2 + len(keys)
        table = np.fromiter(
            chain.from_iterable(batch), dtype=np.int64, count=len(batch) * width
        ).reshape(len(batch), width)
        item_ids, worker_ids = table[:, 0], table[:, 1]
        builder.add_codes(
            item_ids, worker_ids, {key: table[:, 2 + n] for n, key in enumerate(keys)}
        )
        in_scope = ~np.isin(item_ids, gold) if len(gold) else None
        scoped = worker_ids if in_scope is None else worker_ids[in_scope]
        scope.workers.update(np.unique(scoped).tolist())
        scope.answers += len(scoped)
        if on_answers is not None:
            on_answers(len(batch))


def _validate(project: Project, options: ExportOptions) -> None:
    if options.format not in FORMATS:
        raise InputInvalid.on_field(
            "format", f"unknown export format {options.format!r}; use one of {', '.join(FORMATS)}"
        )
    allowed = formats_for(project.task_type)
    if options.format not in allowed:
        raise InputInvalid.on_field(
            "format",
            f"a {project.task_type} project exports as {', '.join(allowed)}, not "
            f"{options.format}",
        )
    for name in ("min_confidence", "min_agreement"):
        value = getattr(options, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise InputInvalid.on_field(name, f"{name} must be between 0 and 1")
    if options.criterion is not None:
        names = [c["name"] for c in project.config.get("criteria") or []]
        if project.task_type != "pairwise" or options.criterion not in names:
            raise InputInvalid.on_field(
                "criterion",
                f"{options.criterion!r} is not a criterion of this project"
                + (f"; use one of {', '.join(names)}" if names else ""),
            )


class PreparedExport:
    """An export whose consensus is fitted (pass 1); :meth:`batches` streams pass 2."""

    def __init__(
        self,
        db: Database,
        project: Project,
        options: ExportOptions,
        consensus: ProjectConsensus,
        scope: _Scope,
        *,
        secret_key: str,
        n_items: int,
        reviews: ReviewScope,
        review_counts: dict[str, int],
    ) -> None:
        self.db = db
        self.reviews = reviews
        self.review_counts = review_counts
        self.project = project
        self.options = options
        self.consensus = consensus
        self.scope = scope
        self.secret_key = secret_key
        self.n_items = n_items
        self.counts = RowCounts()
        self._noise_sum = 0.0
        self._noise_n = 0
        self.schema: pa.Schema = arrow_schema(
            options.format, conversational=options.conversational
        )

    def _records(self, on_items: Progress | None) -> Iterator[list[ItemRecord]]:
        with_answers = self.options.format == "raw" or self.consensus.free_text
        yield from _item_records(
            self.db,
            self.project.id,
            include_gold=self.options.include_gold,
            with_answers=with_answers,
            reviews=self.reviews,
            on_items=on_items,
        )

    def batches(self, on_items: Progress | None = None) -> Iterator[Batch]:
        """The rows, one batch per batch of items (a :class:`ColumnBatch` for pairwise
        preference and unpaired rows, a list of row dicts otherwise; either iterates as row
        dicts). Counts and the noise estimate accumulate in ``self.counts`` as the batches
        are consumed."""
        opts = self.options
        row_options = RowOptions(
            format=opts.format,
            conversational=opts.conversational,
            min_confidence=opts.min_confidence,
            min_agreement=opts.min_agreement,
            criterion=opts.criterion,
        )
        pc = self.consensus
        if pc.task.name == "pairwise" and opts.format in ("preference", "unpaired"):
            yield from self._pairwise_batches(row_options, on_items)
            return
        for records in self._records(on_items):
            if opts.format != "raw":
                # Items whose every answer was rejected have nothing to say (raw shows them).
                records = [r for r in records if r.n_answers]
            lookup = pc.lookup(r.item_id for r in records)
            out: list[dict[str, Any]] = []
            for record in records:
                self.counts.items += 1
                if opts.format == "raw":
                    out.extend(self._raw_rows(lookup, record))
                else:
                    out.extend(rows_for_item(pc, lookup, record, row_options, self.counts))
            self._tally(out)
            yield out

    def _pairwise_batches(
        self, row_options: RowOptions, on_items: Progress | None
    ) -> Iterator[ColumnBatch]:
        """Pairwise preference / unpaired rows, a batch of items at a time, straight from
        the item rows (no per-item record; see :func:`pairwise_batch_rows`)."""
        with self.db.read() as conn:
            for batch in export_store.iter_item_batches(
                conn, self.project.id, include_gold=self.options.include_gold,
                scope=self.reviews,
            ):
                if on_items is not None:
                    on_items(len(batch))
                self.counts.items += len(batch)
                out = pairwise_batch_rows(self.consensus, batch, row_options, self.counts)
                self._tally(out)
                yield out

    def _tally(self, out: Batch) -> None:
        """Count a batch's rows and add their confidences (where known) to the noise sum."""
        if isinstance(out, ColumnBatch):
            confidence = out.floats("confidence")
        else:
            confidence = np.array([row["confidence"] for row in out], dtype=np.float64)
        known = ~np.isnan(confidence)
        self._noise_sum += float((1.0 - confidence[known]).sum())
        self._noise_n += int(known.sum())
        self.counts.rows += len(out)

    def _raw_rows(self, lookup: Any, record: ItemRecord) -> list[dict[str, Any]]:
        _, confidence, agreement = consensus_of(self.consensus, lookup, record)
        opts = self.options
        if (opts.min_confidence is not None and (confidence or 0.0) < opts.min_confidence) or (
            opts.min_agreement is not None and (agreement or 0.0) < opts.min_agreement
        ):
            self.counts.below_confidence += 1
            return []
        def pseudonym(user_id: int) -> str:
            return worker_pseudonym(self.secret_key, self.project.id, user_id)

        rows = []
        for answer in record.answer_rows:
            reviewer = answer["review"]["reviewer"]
            rows.append(
                {
                    "answer_id": answer["answer_id"],
                    "worker": pseudonym(answer["worker"]),
                    "answer": answer["value_json"],
                    "payload": record.payload_json,
                    "duration_ms": answer["duration_ms"],
                    "created_at": iso_utc(answer["created_at"]),
                    **answer["review"],
                    "reviewer": None if reviewer is None else pseudonym(reviewer),
                    "item_id": record.item_id,
                    "external_id": record.external_id,
                    "n_answers": record.n_answers,
                    "confidence": confidence,
                }
            )
        return rows

    @property
    def label_noise(self) -> float | None:
        """Mean over exported rows of ``1 - confidence``: the posterior probability that a
        row's consensus is wrong (usable as DPO's ``label_smoothing``)."""
        return self._noise_sum / self._noise_n if self._noise_n else None

    def card_stats(self) -> CardStats:
        pc = self.consensus
        alphas = pc.alphas()
        primary = next(iter(pc.specs), None)
        n_scope_items = self.scope_items
        return CardStats(
            project_id=self.project.id,
            project_name=self.project.name,
            task_type=self.project.task_type,
            format=self.options.format,
            conversational=self.options.conversational,
            guidelines_version=guidelines_version(self.project.guidelines),
            n_items=n_scope_items,
            n_answers=self.scope.answers,
            n_workers=len(self.scope.workers),
            answers_per_item=(self.scope.answers / n_scope_items) if n_scope_items else 0.0,
            agreement_alpha=alphas.get(primary) if primary is not None else None,
            agreement_by_channel=alphas,
            consensus_method=pc.method,
            consensus_fallbacks=pc.fallbacks,
            label_noise=self.label_noise,
            counts=self.counts.as_dict(),
            reviews=self.review_counts,
            filters={
                "min_confidence": self.options.min_confidence,
                "min_agreement": self.options.min_agreement,
                "include_gold": self.options.include_gold,
                "criterion": self.options.criterion,
                "reviewed_only": self.options.reviewed_only,
            },
        )

    @property
    def scope_items(self) -> int:
        return self.n_items


def _item_records(
    db: Database,
    project_id: int,
    *,
    include_gold: bool,
    with_answers: bool,
    reviews: ReviewScope,
    on_items: Progress | None,
) -> Iterator[list[ItemRecord]]:
    """Items in id order, a batch at a time; ``with_answers`` reads each item's answers too.

    An item's ``answers`` are those counted in ``reviews`` (a fix in place of the worker's
    answer) and ``n_answers`` their number; ``answer_rows`` (for ``raw``) keep every answer
    read, as the worker gave it, with its review.
    """
    loads = orjson.loads
    with db.read() as conn:
        if not with_answers:
            for batch in export_store.iter_item_batches(
                conn, project_id, include_gold=include_gold, scope=reviews
            ):
                records = [
                    ItemRecord(item_id, external_id, loads(payload), n_answers, row, [], payload)
                    for row, (item_id, external_id, payload, n_answers) in enumerate(batch)
                ]
                if on_items is not None:
                    on_items(len(records))
                yield records
            return
        pending: ItemRecord | None = None
        for rows in export_store.iter_item_answer_batches(
            conn, project_id, include_gold=include_gold, scope=reviews
        ):
            records = []
            for row in rows:
                item_id, external_id, payload, _, answer_id, worker, value, ms, at = row[:9]
                if pending is None or pending.item_id != item_id:
                    if pending is not None:
                        records.append(pending)
                    pending = ItemRecord(item_id, external_id, loads(payload), 0, 0, [],
                                         payload)
                review = _review_columns(row[9:])
                if review["review"] != "rejected":
                    fixed = review["fixed_answer"]
                    pending.answers.append(loads(fixed if fixed is not None else value))
                    pending.n_answers += 1
                pending.answer_rows.append(
                    {
                        "answer_id": answer_id,
                        "worker": worker,
                        "value_json": value,
                        "duration_ms": ms,
                        "created_at": at,
                        "review": review,
                    }
                )
            if records:
                for row_number, record in enumerate(records):
                    record.row = row_number
                if on_items is not None:
                    on_items(len(records))
                yield records
        if pending is not None:
            pending.row = 0
            if on_items is not None:
                on_items(1)
            yield [pending]


_NOT_QUEUED = {
    "review": None,
    "review_comment": None,
    "fixed_answer": None,
    "reviewer": None,
    "reviewed_at": None,
}


def _review_columns(columns: Sequence[Any]) -> dict[str, Any]:
    """An answer's review as the ``raw`` columns show it (``reviewer`` still the user id),
    from ``(review_id, outcome, comment, fixed_value_json, reviewer_id, decided_at)``:
    ``review`` is the outcome, ``"pending"`` while undecided, ``None`` for an answer never
    queued."""
    review_id, outcome, comment, fixed_json, reviewer, decided_at = columns
    if review_id is None:
        return _NOT_QUEUED
    if outcome is None:
        return {**_NOT_QUEUED, "review": "pending"}
    return {
        "review": outcome,
        "review_comment": comment,
        "fixed_answer": fixed_json,
        "reviewer": reviewer,
        "reviewed_at": None if decided_at is None else iso_utc(decided_at),
    }


def prepare_export(
    db: Database,
    *,
    actor: User,
    project_id: int,
    options: ExportOptions,
    secret_key: str,
    on_answers: Progress | None = None,
) -> PreparedExport:
    """Check permission and options, then fit the consensus (pass 1).

    Raises before any row is produced, so an API handler can answer with an error status.
    """
    with db.read() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
        _check_can_export(project, actor, include_gold=options.include_gold)
        _validate(project, options)
        reviews = export_store.review_scope(
            conn, project_id, reviewed_only=options.reviewed_only
        )
        review_counts = review_store.outcome_counts(conn, project_id)
        n_items = export_store.count_answered_items(
            conn, project_id, include_gold=options.include_gold, scope=reviews
        )
    consensus, scope = _first_pass(
        db, project, include_gold=options.include_gold, reviews=reviews, on_answers=on_answers
    )
    return PreparedExport(
        db,
        project,
        options,
        consensus,
        scope,
        secret_key=secret_key,
        n_items=n_items,
        reviews=reviews,
        review_counts=review_counts,
    )


def count_answers(db: Database, project_id: int) -> int:
    with db.read() as conn:
        return export_store.count_project_answers(conn, project_id)


@dataclass
class PreparedConsensus:
    project: Project
    consensus: ProjectConsensus
    include_gold: bool
    db: Database
    reviews: ReviewScope

    def lines(self) -> Iterator[dict[str, Any]]:
        """One dict per answered item: item_id, external_id, n_answers, consensus,
        confidence, method."""
        pc = self.consensus
        method = pc.method
        for records in _item_records(
            self.db,
            self.project.id,
            include_gold=self.include_gold,
            with_answers=pc.free_text,
            reviews=self.reviews,
            on_items=None,
        ):
            records = [r for r in records if r.n_answers]
            lookup = pc.lookup(r.item_id for r in records)
            for record in records:
                consensus, confidence, _ = consensus_of(pc, lookup, record)
                yield {
                    "item_id": record.item_id,
                    "external_id": record.external_id,
                    "n_answers": record.n_answers,
                    "consensus": consensus,
                    "confidence": confidence,
                    "method": method,
                }


def prepare_consensus(
    db: Database, *, actor: User, project_id: int, include_gold: bool = False
) -> PreparedConsensus:
    """Check permission and fit the consensus; :meth:`PreparedConsensus.lines` streams it."""
    with db.read() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
        _check_can_export(project, actor, include_gold=include_gold)
        reviews = export_store.review_scope(conn, project_id, reviewed_only=False)
    consensus, _ = _first_pass(
        db, project, include_gold=include_gold, reviews=reviews, on_answers=None
    )
    return PreparedConsensus(project, consensus, include_gold, db, reviews)


def iter_consensus(
    db: Database, *, actor: User, project_id: int, include_gold: bool = False
) -> Iterator[dict[str, Any]]:
    return prepare_consensus(
        db, actor=actor, project_id=project_id, include_gold=include_gold
    ).lines()
