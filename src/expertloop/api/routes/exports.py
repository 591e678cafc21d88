"""Training-ready exports and per-item consensus (the project's managers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request, status
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from expertloop.api.deps import CurrentUser, DatabaseDep, SettingsDep
from expertloop.api.routes.jobs import JobPublic, job_public
from expertloop.api.schemas import Id, SmallId, iso_utc
from expertloop.domain import ExportFormat
from expertloop.exports.writers import jsonl_chunks, parquet_chunks
from expertloop.services import consensus as consensus_snapshots
from expertloop.services import export_jobs, exports

router = APIRouter(tags=["exports"])

PARQUET_TYPE = "application/vnd.apache.parquet"


class ExportFilters(BaseModel):
    """The options every export takes: as query parameters of the streamed export and its
    card, and in the body of an export job."""

    output: Literal["jsonl", "parquet"] = "jsonl"
    standard: bool = Field(False, description="Plain strings, not chat messages")
    min_confidence: float | None = Field(None, ge=0, le=1)
    min_agreement: float | None = Field(None, ge=0, le=1)
    include_gold: bool = False
    criterion: str | None = None
    reviewed_only: bool = Field(False, description="Only answers a reviewer accepted (or fixed)")

    def options(self, export_format: ExportFormat, *, license: str | None = None,
                language: list[str] | None = None) -> exports.ExportOptions:
        return exports.ExportOptions(
            format=export_format.value,
            conversational=not self.standard,
            min_confidence=self.min_confidence,
            min_agreement=self.min_agreement,
            include_gold=self.include_gold,
            criterion=self.criterion,
            reviewed_only=self.reviewed_only,
            license=license,
            language=tuple(language or ()),
        )


class CardFilters(ExportFilters):
    license: str | None = Field(
        None, max_length=64, description="The card's licence (default other)"
    )
    language: list[str] | None = Field(
        None, max_length=50, description="The card's language codes"
    )


@router.get(
    "/projects/{project_id}/exports/{export_format}",
    summary="A training-ready dataset (TRL formats) as JSONL or Parquet (managers)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, PARQUET_TYPE: {}}}},
)
def export_dataset(
    project_id: SmallId,
    export_format: ExportFormat,
    db: DatabaseDep,
    settings: SettingsDep,
    actor: CurrentUser,
    filters: Annotated[ExportFilters, Query()],
) -> StreamingResponse:
    options = filters.options(export_format)
    output = filters.output
    prepared = _prepare(db, settings, actor, project_id, options)
    filename = f"project-{project_id}-{export_format}.{output}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if output == "parquet":
        chunks = parquet_chunks(prepared.batches(), prepared.schema)
        return StreamingResponse(chunks, media_type=PARQUET_TYPE, headers=headers)
    return StreamingResponse(
        jsonl_chunks(prepared.batches()), media_type="application/x-ndjson", headers=headers
    )


def _prepare(
    db: DatabaseDep,
    settings: SettingsDep,
    actor: CurrentUser,
    project_id: int,
    options: exports.ExportOptions,
) -> exports.PreparedExport:
    # Large projects export as jobs (POST .../exports): a stream that takes minutes dies
    # with its connection, and ties up a server thread meanwhile.
    export_jobs.check_streamable(
        db,
        actor=actor,
        project_id=project_id,
        include_gold=options.include_gold,
        reviewed_only=options.reviewed_only,
        threshold=settings.export_job_threshold_items,
    )
    # Permission, options and the consensus fit happen here, before the first byte, so
    # errors still get their status code.
    return exports.prepare_export(
        db, actor=actor, project_id=project_id, options=options, secret_key=settings.secret_key
    )


@router.get(
    "/projects/{project_id}/exports/{export_format}/card",
    summary="The dataset card (README.md) of the export the same options stream (managers)",
    response_class=Response,
    responses={200: {"content": {"text/markdown": {}}}},
)
def export_dataset_card(
    project_id: SmallId,
    export_format: ExportFormat,
    db: DatabaseDep,
    settings: SettingsDep,
    actor: CurrentUser,
    filters: Annotated[CardFilters, Query()],
) -> Response:
    """Runs the export without sending its rows (its numbers need them all), so it costs
    what the export costs."""
    options = filters.options(export_format, license=filters.license,
                              language=filters.language)
    output = filters.output
    prepared = _prepare(db, settings, actor, project_id, options)
    for _ in prepared.batches():
        pass
    filename = f"project-{project_id}-{export_format}.{output}"
    return Response(
        prepared.card(filename),
        media_type="text/markdown",
        headers={"Content-Disposition": 'attachment; filename="README.md"'},
    )


class ExportRequest(ExportFilters):
    """The options of ``GET .../exports/{format}``, as a body."""

    model_config = ConfigDict(extra="forbid")

    format: ExportFormat
    license: str | None = Field(None, max_length=64, description="The card's licence")
    language: list[str] = Field(
        default_factory=list, max_length=50, description="The card's language codes"
    )


@router.post(
    "/projects/{project_id}/exports",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start an export job; download its file and card when it has finished (managers)",
)
def start_export(
    project_id: SmallId,
    body: ExportRequest,
    request: Request,
    db: DatabaseDep,
    actor: CurrentUser,
) -> JobPublic:
    options = body.options(body.format, license=body.license, language=body.language)
    job = export_jobs.start_export_job(
        db, actor=actor, project_id=project_id, options=options, output=body.output
    )
    request.app.state.job_runner.wake()
    return job_public(job)


@router.get(
    "/exports/{job_id}/file",
    summary="The dataset file of a finished export job (managers)",
    response_class=FileResponse,
    responses={200: {"content": {"application/x-ndjson": {}, PARQUET_TYPE: {}}}},
)
def export_file(
    job_id: Id, db: DatabaseDep, settings: SettingsDep, actor: CurrentUser
) -> FileResponse:
    found = export_jobs.export_download(
        db, actor=actor, job_id=job_id, settings=settings, part="file"
    )
    return FileResponse(found.path, media_type=found.media_type, filename=found.filename)


@router.get(
    "/exports/{job_id}/card",
    summary="The Hugging Face dataset card (README.md) of a finished export job (managers)",
    response_class=FileResponse,
    responses={200: {"content": {"text/markdown": {}}}},
)
def export_card(
    job_id: Id, db: DatabaseDep, settings: SettingsDep, actor: CurrentUser
) -> FileResponse:
    found = export_jobs.export_download(
        db, actor=actor, job_id=job_id, settings=settings, part="card"
    )
    return FileResponse(found.path, media_type=found.media_type, filename=found.filename)


@router.get(
    "/projects/{project_id}/consensus",
    summary="Each answered item's consensus as NDJSON, from the project's snapshot (managers)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/x-ndjson": {}}},
        202: {"model": JobPublic, "description": "No snapshot yet: this job computes it"},
    },
)
def consensus(
    project_id: SmallId,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    actor: CurrentUser,
    include_gold: bool = False,
) -> Response:
    view = consensus_snapshots.read_consensus(
        db,
        actor=actor,
        project_id=project_id,
        include_gold=include_gold,
        inline_max_items=settings.consensus_inline_max_items,
    )
    if view.job is not None:
        request.app.state.job_runner.wake()
    if view.snapshot is None:
        assert view.job is not None
        return JSONResponse(
            job_public(view.job).model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED
        )
    headers = {
        "X-Consensus-Computed-At": iso_utc(view.snapshot.computed_at),
        "X-Consensus-Stale": "true" if view.stale else "false",
        "X-Consensus-Answers-Behind": str(view.answers_behind),
    }
    if view.job is not None:
        headers["X-Consensus-Refresh-Job"] = str(view.job.id)

    def lines() -> Iterator[bytes]:
        for line in view.lines():
            yield orjson.dumps(line) + b"\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson", headers=headers)
