"""The FastAPI application factory and its lifespan (process resources built here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
import redis.asyncio as aioredis
from fastapi import APIRouter, FastAPI
from sqlalchemy.exc import SQLAlchemyError

from api.audit.endpoints import router as audit_router
from api.auth.endpoints import router as auth_router
from api.calls.endpoints import router as calls_router
from api.clusters.endpoints import router as clusters_router
from api.core.db import make_engine, make_sessionmaker
from api.core.jobs import enqueue_broker
from api.core.logging_setup import configure_logging
from api.core.redis_server import redis_url
from api.core.settings import Settings, get_settings
from api.http import health
from api.http.deps import Resources
from api.http.errors import error_responses, install_error_handlers, use_error_body_for_validation
from api.http.middleware import middleware_stack
from api.http.unavailable import database_error
from api.notifications.endpoints import router as notifications_router
from api.operations.metrics import router as metrics_router
from api.postings.endpoints import router as postings_router
from api.privacy.endpoints import router as privacy_router
from api.suggestions.endpoints import router as suggestions_router


def build_resources(settings: Settings) -> Resources:
    engine = make_engine(
        settings.resolved_database_url,
        busy_timeout_ms=settings.database_busy_timeout_ms,
        sqlite_synchronous=settings.database_sqlite_synchronous,
    )
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
    configure_logging(settings.log_level, settings.resolved_log_format)

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
        # Security headers, the request body limit (413), ...: one ordered list.
        middleware=middleware_stack(settings),
        # No Swagger UI or ReDoc: both load scripts from a CDN, unpinned and without integrity
        # hashes, on the pages' own origin, where such a script could act as the signed-in user.
        # The schema itself stays at /openapi.json for any client or viewer.
        docs_url=None,
        redoc_url=None,
    )

    # Every API error has one body (api/http/errors.py); pages get theirs in frontend/pages.py.
    install_error_handlers(app)

    # Locks, lost connections and timeouts answer 503 + Retry-After (api/http/unavailable.py).
    app.add_exception_handler(SQLAlchemyError, database_error)

    # Every API operation documents the errors it can answer (bodies: ErrorBody); 400 for a body
    # that is not UTF-8 JSON, 401 wherever a login is needed, 413 wherever a body is read, 503
    # when the database is in trouble.
    v1 = APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 413, 422, 503))
    for router, codes in (
        (auth_router, (403, 404, 409, 429)),
        (postings_router, (403, 404, 409)),
        (suggestions_router, (403, 404, 409)),
        (notifications_router, (404,)),
        (clusters_router, (403,)),
        (privacy_router, (403, 404, 409)),
        (audit_router, (403,)),
        (calls_router, (403, 404)),
    ):
        v1.include_router(router, responses=error_responses(*codes))
    app.include_router(v1)
    app.include_router(health.router)
    app.include_router(metrics_router)  # GET /metrics: loopback or CLUSTERMATCH_METRICS_TOKEN

    from frontend.pages import mount_frontend

    mount_frontend(app)
    use_error_body_for_validation(app)
    return app
