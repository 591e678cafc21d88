"""Exports to other labelling tools (Label Studio, Argilla), labels included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import orjson
from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from expertloop.api.deps import CurrentUser, DatabaseDep
from expertloop.api.schemas import SmallId
from expertloop.services import interchange

router = APIRouter(tags=["exports"])


@router.get(
    "/projects/{project_id}/interchange/{tool}",
    summary="The project's items with answers, gold and suggestions in Label Studio's or "
    "Argilla's import format (managers)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}}},
)
def export_to_tool(
    project_id: SmallId,
    tool: Literal["label-studio", "argilla"],
    db: DatabaseDep,
    actor: CurrentUser,
) -> StreamingResponse:
    records = interchange.export_to_tool(db, actor=actor, project_id=project_id, tool=tool)
    return StreamingResponse(
        _json_array(records),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="project-{project_id}-{tool}.json"'
        },
    )


def _json_array(records: Iterator[dict[str, object]]) -> Iterator[bytes]:
    yield b"["
    for n, record in enumerate(records):
        yield (b",\n" if n else b"\n") + orjson.dumps(record)
    yield b"\n]\n"
