from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from expertloop.api.deps import DatabaseDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and database check")
def healthz(db: DatabaseDep) -> dict[str, str]:
    with db.read() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "database": db.dialect}
