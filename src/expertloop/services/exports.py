"""Training-ready exports and per-item consensus, computed at export time.

Two passes over the project (:mod:`expertloop.services.export_passes`): every answer, to
fit the consensus; then every answered item in id order, turned into rows batch by batch
(:mod:`expertloop.exports.rows`).

Memory is the codes of pass 1 plus one batch of rows, whatever the project's size.
Exports are for the project's managers (and admins); gold items stay out unless asked for,
and only callers who may read gold may ask.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from expertloop.domain import ExportFormat, Project, User
from expertloop.domain.policies import can_read_gold
from expertloop.errors import InputInvalid, PermissionDenied
from expertloop.exports.batch import ColumnBatch
from expertloop.exports.card import card_markdown
from expertloop.exports.consensus import ProjectConsensus
from expertloop.exports.rows import (
    FORMATS,
    ItemRecord,
    RowCounts,
    RowOptions,
    ScorePairs,
    columnar_batch_rows,
    consensus_of,
    rows_for_item,
)
from expertloop.exports.writers import Batch, arrow_schema, schema_features
from expertloop.services.clock import iso_utc
from expertloop.services.export_passes import AnswerTally, Progress, first_pass, item_records
from expertloop.services.projects import load_project
from expertloop.store import Database, audit
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
    "validate_card_fields",
    "worker_pseudonym",
]


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
    # For the dataset card only: the data's licence (an SPDX id or a Hub licence name) and
    # languages (ISO 639-1 codes).
    license: str | None = None
    language: tuple[str, ...] = ()


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
    label_counts: dict[str, int]  # unpaired: "true"/"false"; classification: per label
    # Model judges' calibration and the triage rule (services/llm/card.py), if any.
    model_judges: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _check_can_export(project: Project, actor: User, *, include_gold: bool) -> None:
    # Exports carry every answer's consensus: the same people who manage the project and
    # may read its gold (managers who are members, admins); reviewers and workers may not.
    if not can_read_gold(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers can export it")
    if include_gold and not can_read_gold(actor, is_member=project.is_member):
        raise PermissionDenied("only the project's managers may export gold items")


def _validate(project: Project, options: ExportOptions) -> None:
    if options.format not in FORMATS:
        raise InputInvalid.on_field(
            "format", f"unknown export format {options.format!r}; use one of {', '.join(FORMATS)}"
        )
    task = get_task_type(project.task_type)
    allowed = task.export_formats
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
    validate_card_fields(options)
    if options.criterion is not None:
        names = task.export_criteria(project.config)
        if options.criterion not in names:
            raise InputInvalid.on_field(
                "criterion",
                f"{options.criterion!r} is not a criterion of this project"
                + (f"; use one of {', '.join(names)}" if names else ""),
            )


_CARD_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$")


def validate_card_fields(options: ExportOptions) -> None:
    """Refuse a card licence or language that is not a plain identifier (they go into the
    card's YAML)."""
    if options.license is not None and not _CARD_WORD.match(options.license):
        raise InputInvalid.on_field(
            "license", "a licence is an identifier such as apache-2.0, cc-by-4.0 or other"
        )
    for code in options.language:
        if not _CARD_WORD.match(code):
            raise InputInvalid.on_field("language", f"{code!r} is not a language code (e.g. en)")


class PreparedExport:
    """An export whose consensus is fitted (pass 1); :meth:`batches` streams pass 2."""

    def __init__(
        self,
        db: Database,
        project: Project,
        options: ExportOptions,
        consensus: ProjectConsensus,
        scope: AnswerTally,
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
        self.label_counts: dict[str, int] = {}
        classes = consensus.task.class_names(project.config)
        self.schema: pa.Schema = arrow_schema(
            options.format,
            conversational=options.conversational,
            class_names=None if classes is None else classes[0],
            multi_label=bool(classes and classes[1]),
            extra_columns=consensus.task.row_column_types,
        )

    def _records(self, on_items: Progress | None) -> Iterator[list[ItemRecord]]:
        with_answers = self.options.format == "raw" or self.consensus.free_text
        yield from item_records(
            self.db,
            self.project.id,
            include_gold=self.options.include_gold,
            with_answers=with_answers,
            reviews=self.reviews,
            on_items=on_items,
        )

    def batches(self, on_items: Progress | None = None) -> Iterator[Batch]:
        """The rows, one batch per batch of items (a :class:`ColumnBatch` for preference and
        unpaired rows of a task type with a columnar comparison, a list of row dicts
        otherwise; either iterates as row dicts). Counts and the noise estimate accumulate
        in ``self.counts`` as the batches are consumed."""
        opts = self.options
        row_options = RowOptions(
            format=opts.format,
            conversational=opts.conversational,
            min_confidence=opts.min_confidence,
            min_agreement=opts.min_agreement,
            criterion=opts.criterion,
        )
        pc = self.consensus
        paired = opts.format in (
            ExportFormat.PREFERENCE,
            ExportFormat.UNPAIRED,
            ExportFormat.REWARD,
        )
        if pc.task.columnar_comparison is not None and paired:
            yield from self._columnar_batches(row_options, on_items)
            return
        pairs = ScorePairs() if opts.format == ExportFormat.REWARD else None
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
                    out.extend(
                        rows_for_item(pc, lookup, record, row_options, self.counts, pairs)
                    )
            self._tally(out)
            yield out
        if pairs is not None:  # responses to one prompt, paired once all are read
            out = pairs.rows(opts.conversational, self.counts)
            self._tally(out)
            yield out

    def _columnar_batches(
        self, row_options: RowOptions, on_items: Progress | None
    ) -> Iterator[ColumnBatch]:
        """Preference / unpaired rows, a batch of items at a time, straight from the item
        rows (no per-item record; see :func:`columnar_batch_rows`)."""
        with self.db.read() as conn:
            for batch in export_store.iter_item_batches(
                conn, self.project.id, include_gold=self.options.include_gold,
                scope=self.reviews,
            ):
                if on_items is not None:
                    on_items(len(batch))
                self.counts.items += len(batch)
                out = columnar_batch_rows(self.consensus, batch, row_options, self.counts)
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
        fmt = self.options.format
        if fmt == ExportFormat.UNPAIRED and len(out):
            labels = out.values("label") if isinstance(out, ColumnBatch) else [
                row["label"] for row in out
            ]
            good = sum(1 for label in labels if label)
            self._count("true", good)
            self._count("false", len(labels) - good)
        elif fmt == ExportFormat.CLASSIFICATION:
            classes = self.consensus.task.class_names(self.project.config)
            assert classes is not None
            names = classes[0]
            for row in out:
                for n in row["labels"] if "labels" in row else [row["label"]]:
                    self._count(names[n], 1)

    def _count(self, key: str, n: int) -> None:
        self.label_counts[key] = self.label_counts.get(key, 0) + n

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
            label_counts=dict(self.label_counts),
        )

    def card(self, data_files: str) -> str:
        """The dataset card (``README.md``) of this export, once its rows are written:
        ``data_files`` is the path of the data file (or a glob) next to the card."""
        from expertloop.services.llm.card import judges_for_card

        stats = self.card_stats()
        stats.model_judges = judges_for_card(
            self.db, self.project.id, self.project.task_type, self.project.config
        )
        return card_markdown(
            stats.as_dict(),
            features=schema_features(self.schema),
            data_files=data_files,
            license=self.options.license,
            language=self.options.language,
        )

    @property
    def scope_items(self) -> int:
        return self.n_items


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
    now = db.clock.now()
    with db.write() as conn:  # who took which data out, whichever way (API, job, CLI)
        audit.record_event(
            conn,
            action="project.exported",
            actor_id=actor.id,
            now=now,
            project_id=project_id,
            details={"options": asdict(options), "items": n_items},
        )
    consensus, scope = first_pass(
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

    def lines(self, *, with_agreement: bool = False) -> Iterator[dict[str, Any]]:
        """One dict per answered item: item_id, external_id, n_answers, consensus,
        confidence, method (and ``agreement``, the share of answers giving the consensus,
        where asked for)."""
        pc = self.consensus
        method = pc.method
        for records in item_records(
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
                consensus, confidence, agreement = consensus_of(pc, lookup, record)
                line = {
                    "item_id": record.item_id,
                    "external_id": record.external_id,
                    "n_answers": record.n_answers,
                    "consensus": consensus,
                    "confidence": confidence,
                    "method": method,
                }
                if with_agreement:
                    line["agreement"] = agreement
                yield line


def prepare_consensus(
    db: Database, *, actor: User, project_id: int, include_gold: bool = False
) -> PreparedConsensus:
    """Check permission and fit the consensus; :meth:`PreparedConsensus.lines` streams it."""
    with db.read() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
        _check_can_export(project, actor, include_gold=include_gold)
        reviews = export_store.review_scope(conn, project_id, reviewed_only=False)
    consensus, _ = first_pass(
        db, project, include_gold=include_gold, reviews=reviews, on_answers=None
    )
    return PreparedConsensus(project, consensus, include_gold, db, reviews)


def iter_consensus(
    db: Database, *, actor: User, project_id: int, include_gold: bool = False
) -> Iterator[dict[str, Any]]:
    return prepare_consensus(
        db, actor=actor, project_id=project_id, include_gold=include_gold
    ).lines()
