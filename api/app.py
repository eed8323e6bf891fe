"""The FastAPI application factory and its lifespan (process resources built here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
import redis.asyncio as aioredis
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api import health
from api.auth.endpoints import router as auth_router
from api.clusters.endpoints import router as clusters_router
from api.db import make_engine, make_sessionmaker
from api.deps import Resources
from api.errors import DomainError
from api.jobs import enqueue_broker
from api.logging_setup import configure_logging
from api.notifications.endpoints import router as notifications_router
from api.postings.endpoints import router as postings_router
from api.redis_server import redis_url
from api.settings import Settings, get_settings
from api.suggestions.endpoints import router as suggestions_router


def build_resources(settings: Settings) -> Resources:
    engine = make_engine(settings.resolved_database_url)
    url = redis_url(settings)
    return Resources(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        # Only used to enqueue: the API never consumes messages.
        broker=enqueue_broker(url),
        redis=redis.Redis.from_url(url),
        aredis=aioredis.Redis.from_url(url),
        secret_key=settings.resolved_secret_key(),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = build_resources(settings)
        app.state.resources = resources
        yield
        await resources.aredis.aclose()
        resources.redis.close()
        resources.broker.close()
        resources.engine.dispose()

    app = FastAPI(
        title="clustermatch",
        description="Matchmaking between technology needs and research offers of the Clust-ER clusters.",
        version="0.1.0",
        lifespan=lifespan,
    )

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # One readable sentence per problem, plus FastAPI's structured list for programs.
        problems = [
            f"{'.'.join(str(p) for p in error['loc'] if p != 'body')}: {error['msg']}"
            for error in exc.errors()
        ]
        return JSONResponse(
            {"detail": "Invalid input. " + "; ".join(problems), "errors": jsonable(exc.errors())},
            status_code=422,
        )

    v1 = APIRouter(prefix="/api/v1")
    for router in (auth_router, postings_router, suggestions_router, notifications_router, clusters_router):
        v1.include_router(router)
    app.include_router(v1)
    app.include_router(health.router)

    from frontend.pages import mount_frontend

    mount_frontend(app)
    return app


def jsonable(errors: list) -> list:  # type: ignore[type-arg]
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(errors, custom_encoder={Exception: str})
