"""Worker entry point: `dramatiq workers.main` (what `clustermatch worker` runs).

The broker is installed before the actors are imported: actors bind to it at declaration.
"""

from __future__ import annotations

import logging

from api.core.logging_setup import configure_logging
from api.core.redis_server import redis_url
from api.core.settings import get_settings
from api.operations.metrics import WorkerMetricsServer
from workers.broker import install_broker
from workers.heartbeat import Heartbeat
from workers.reconciler import ReconcilerMiddleware
from workers.resources import WorkerResourcesMiddleware

settings = get_settings()
configure_logging(settings.log_level, settings.resolved_log_format)
broker = install_broker(
    settings,
    extra_middleware=[
        WorkerResourcesMiddleware(settings),
        ReconcilerMiddleware(
            interval_seconds=settings.reconcile_interval_seconds,
            stale_seconds=settings.reconcile_stale_seconds,
            max_attempts=settings.pipeline_max_attempts,
        ),
        # Prometheus metrics of this process over HTTP (CLUSTERMATCH_WORKER_METRICS_PORT, 0: off).
        *(
            [WorkerMetricsServer(settings.worker_metrics_host, settings.worker_metrics_port)]
            if settings.worker_metrics_port
            else []
        ),
        # Last: written only once the process has booted (model loaded, replica built).
        Heartbeat(redis_url(settings), interval_seconds=settings.worker_heartbeat_interval_seconds),
    ],
)

import workers.actors  # noqa: E402,F401  (registers the actors on the broker above)

logging.getLogger(__name__).debug("actors: %s", sorted(broker.get_declared_actors()))
