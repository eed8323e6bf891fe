"""Prometheus metrics: the API's requests, the workers' messages, and the domain's counters.

The API serves them at GET /metrics (with `CLUSTERMATCH_METRICS_TOKEN` set: only with that
bearer token; without it: only to clients on the loopback interface). Each worker process
serves its own at http://CLUSTERMATCH_WORKER_METRICS_HOST:<port>/ from the first free port at
or above `CLUSTERMATCH_WORKER_METRICS_PORT` (one process per port, each scraped on its own).
We use prometheus-client directly rather than Dramatiq's Prometheus middleware: that one reads
its port and database directory from environment variables at import time and serves from a
forked process of the `dramatiq` command, which does not fit settings-driven, embedded and
in-process workers alike.

Labels stay bounded: routes are path templates ("/api/v1/postings/{posting_id}"), actors and
channels are names of ours.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from typing import Any

import dramatiq
import redis
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "clustermatch_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "clustermatch_http_request_duration_seconds",
    "Time to answer an HTTP request (until the response starts; streams excluded).",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
MESSAGES = Counter(
    "clustermatch_messages_total",
    "Messages processed by workers, by outcome: done, retried (failed, will run again), dead.",
    ["queue", "actor", "outcome"],
)
MESSAGE_DURATION = Histogram(
    "clustermatch_message_duration_seconds",
    "Time a worker spent on one message.",
    ["queue", "actor"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 600),
)
PIPELINE_STAGE = Histogram(
    "clustermatch_pipeline_stage_seconds",
    "Time of one pipeline stage (embedding, matching) of one posting.",
    ["stage"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120),
)
SUGGESTIONS_CREATED = Counter("clustermatch_suggestions_created_total", "Suggestions created or revived.")
DELIVERIES = Counter(
    "clustermatch_deliveries_total",
    "Notification deliveries by channel (live, email) and outcome (sent, failed, skipped, deferred).",
    ["channel", "outcome"],
)
QUEUE_DEPTH = Gauge("clustermatch_queue_depth", "Messages not yet done per queue.", ["queue"])
DEAD_LETTERS = Gauge("clustermatch_dead_letters", "Messages that exhausted their retries.")

# Which actor is which pipeline stage.
STAGES = {"postings.embed": "embedding", "matching.match_posting": "matching"}
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def count_delivery(channel: str, outcome: str) -> None:
    """For the delivery channels: one delivery attempt's outcome."""
    DELIVERIES.labels(channel=channel, outcome=outcome).inc()


# --- the API ---------------------------------------------------------------------------------


class HttpMetricsMiddleware:
    """ASGI middleware: count and time each request by method, route template and status."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500, "elapsed": None}
        outer_root = scope.get("root_path", "")

        async def send_and_watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["elapsed"] = time.perf_counter() - start
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            route = route_template(scope, outer_root)
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(method=method, route=route, status=str(status["code"])).inc()
            elapsed = status["elapsed"] if status["elapsed"] is not None else time.perf_counter() - start
            HTTP_LATENCY.labels(method=method, route=route).observe(elapsed)


def route_template(scope: dict[str, Any], outer_root: str) -> str:
    """The matched route's path template ("/api/v1/postings/{posting_id}"), never the raw path.

    FastAPI keeps an included router's routes with paths relative to its prefix and records
    the full template in its per-request route context; Starlette routes carry it directly.
    """
    route = scope.get("route")
    if route is None:
        return "unmatched"
    context = scope.get("fastapi", {}).get("effective_route_context")
    full = getattr(context, "path", None)
    if isinstance(full, str) and full.startswith("/"):
        return full
    mounted = scope.get("root_path", "")[len(outer_root) :]
    return f"{mounted}{getattr(route, 'path', '')}" or "unmatched"


def exposition() -> bytes:
    """The metrics of this process, or of all processes sharing PROMETHEUS_MULTIPROC_DIR."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def may_scrape(*, token: str | None, authorization: str | None, client_host: str | None) -> bool:
    """With a token configured, only its bearer may scrape; without one, only loopback clients."""
    if token:
        expected = f"Bearer {token}"
        return authorization is not None and secrets.compare_digest(authorization.encode(), expected.encode())
    return client_host in LOOPBACK


router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    settings = request.app.state.resources.settings
    if not may_scrape(
        token=settings.metrics_token,
        authorization=request.headers.get("authorization"),
        client_host=request.client.host if request.client else None,
    ):
        raise HTTPException(
            status_code=403,
            detail="Metrics are served to loopback clients, or with the bearer CLUSTERMATCH_METRICS_TOKEN.",
        )
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


# --- the workers -----------------------------------------------------------------------------


class WorkerMetrics(dramatiq.Middleware):
    """Counts and times every message by actor; times the pipeline stages."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._started[message.message_id] = time.perf_counter()

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        started = self._started.pop(message.message_id, None)
        labels = {"queue": message.queue_name, "actor": message.actor_name}
        if started is not None:
            elapsed = time.perf_counter() - started
            MESSAGE_DURATION.labels(**labels).observe(elapsed)
            stage = STAGES.get(message.actor_name)
            if stage and exception is None:
                PIPELINE_STAGE.labels(stage=stage).observe(elapsed)
        if exception is None:
            outcome = "done"
        else:
            outcome = "dead" if message.failed else "retried"
        MESSAGES.labels(**labels, outcome=outcome).inc()

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._started.pop(message.message_id, None)


class WorkerMetricsServer(dramatiq.Middleware):
    """Serves this worker process's metrics over HTTP and samples the queues' depth."""

    PORTS_TO_TRY = 32
    SAMPLE_SECONDS = 15.0

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._stop = threading.Event()
        self.bound_port: int | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        for port in range(self.port, self.port + self.PORTS_TO_TRY):
            try:
                start_http_server(port, addr=self.host)
            except OSError:
                continue
            self.bound_port = port
            log.info("worker metrics at http://%s:%s/", self.host, port)
            break
        else:
            log.warning(
                "no free port for worker metrics in %s-%s", self.port, self.port + self.PORTS_TO_TRY - 1
            )
        client = getattr(broker, "client", None)
        if client is not None:
            threading.Thread(target=self._sample, args=(client,), name="queue-depth", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()

    def _sample(self, client: redis.Redis) -> None:
        from api.operations.deadletters import count_dead_letters
        from api.operations.doctor import queue_depths

        while not self._stop.is_set():
            try:
                for queue, depth in queue_depths(client).items():
                    QUEUE_DEPTH.labels(queue=queue).set(depth)
                DEAD_LETTERS.set(count_dead_letters(client))
            except redis.RedisError as exc:
                log.debug("could not sample the queues: %s", exc)
            self._stop.wait(self.SAMPLE_SECONDS)
