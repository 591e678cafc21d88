"""Training-ready exports and per-item consensus (the project's managers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from expertloop.api.deps import CurrentUser, DatabaseDep, SettingsDep
from expertloop.api.schemas import SmallId
from expertloop.exports.writers import jsonl_chunks, parquet_chunks
from expertloop.services import exports

router = APIRouter(tags=["exports"])

PARQUET_TYPE = "application/vnd.apache.parquet"


@router.get(
    "/projects/{project_id}/exports/{export_format}",
    summary="A training-ready dataset (TRL formats) as JSONL or Parquet (managers)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, PARQUET_TYPE: {}}}},
)
def export_dataset(
    project_id: SmallId,
    export_format: Literal["preference", "unpaired", "sft", "reward", "raw"],
    db: DatabaseDep,
    settings: SettingsDep,
    actor: CurrentUser,
    output: Literal["jsonl", "parquet"] = "jsonl",
    standard: Annotated[bool, Query(description="Plain strings, not chat messages")] = False,
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    min_agreement: Annotated[float | None, Query(ge=0, le=1)] = None,
    include_gold: bool = False,
    criterion: str | None = None,
    reviewed_only: Annotated[
        bool, Query(description="Only answers a reviewer accepted (or fixed)")
    ] = False,
) -> StreamingResponse:
    options = exports.ExportOptions(
        format=export_format,
        conversational=not standard,
        min_confidence=min_confidence,
        min_agreement=min_agreement,
        include_gold=include_gold,
        criterion=criterion,
        reviewed_only=reviewed_only,
    )
    # Permission, options and the consensus fit happen here, before the first byte, so
    # errors still get their status code.
    prepared = exports.prepare_export(
        db, actor=actor, project_id=project_id, options=options, secret_key=settings.secret_key
    )
    filename = f"project-{project_id}-{export_format}.{output}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if output == "parquet":
        chunks = parquet_chunks(prepared.batches(), prepared.schema)
        return StreamingResponse(chunks, media_type=PARQUET_TYPE, headers=headers)
    return StreamingResponse(
        jsonl_chunks(prepared.batches()), media_type="application/x-ndjson", headers=headers
    )


@router.get(
    "/projects/{project_id}/consensus",
    summary="Each answered item's consensus as NDJSON (managers)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def consensus(
    project_id: SmallId, db: DatabaseDep, actor: CurrentUser, include_gold: bool = False
) -> StreamingResponse:
    prepared = exports.prepare_consensus(
        db, actor=actor, project_id=project_id, include_gold=include_gold
    )

    def lines() -> Iterator[bytes]:
        for line in prepared.lines():
            yield orjson.dumps(line) + b"\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")
