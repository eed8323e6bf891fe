"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.http.deps import ResourcesDep
from embeddings.encoder import resolve_model_location

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(resources: ResourcesDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    checks["database"] = await asyncio.to_thread(_check_database, resources)
    try:
        checks["redis"] = "ok" if await resources.aredis.ping() else "no answer"
    except Exception as exc:
        checks["redis"] = f"unreachable: {exc}"
    checks["model"] = _check_model(resources.settings.embedding_model)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


def _check_database(resources: ResourcesDep) -> str:
    try:
        with resources.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        return f"unreachable: {exc.__class__.__name__}"


def _check_model(name: str) -> str:
    try:
        location = resolve_model_location(name)
    except Exception as exc:
        return f"missing: {exc}"
    if Path(location).exists() and not (Path(location) / "config.json").exists():
        return f"missing: no model files in {location}"
    return "ok"
