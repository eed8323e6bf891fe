"""Runs the periodic pass in worker processes, one at a time cluster-wide: the pipeline
reconciler and the daily e-mail digests."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import dramatiq
import redis

from api.mail.service import plan_digests
from api.models.base import utcnow
from api.pipeline.service import ReconcilePolicy, reconcile
from workers import resources
from workers.mailing import send_emails

log = logging.getLogger(__name__)

LOCK_KEY = "clustermatch:reconciler:lock"


class ReconcilerMiddleware(dramatiq.Middleware):
    def __init__(self, *, interval_seconds: float, stale_seconds: float, max_attempts: int) -> None:
        self.interval = interval_seconds
        self.policy = ReconcilePolicy(timedelta(seconds=stale_seconds), max_attempts)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="reconciler", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:
                log.exception("reconciler pass failed; retrying in %.0fs", self.interval)

    def run_once(self) -> None:
        res = resources.current()
        # Every worker process runs this loop; the lock makes one of them do each pass.
        try:
            acquired = res.redis.set(LOCK_KEY, "1", nx=True, px=int(self.interval * 900))
        except redis.RedisError as exc:
            log.warning("reconciler skipped, Redis unreachable: %s", exc)
            return
        if not acquired:
            return
        with res.unit_of_work() as uow:
            report = reconcile(uow.session, jobs=uow.jobs, policy=self.policy)
            digests = plan_digests(uow.session, base_url=res.settings.resolved_public_url, now=utcnow())
        if report.requeued or report.failed or report.expired:
            log.info("reconciler: %s", report)
        send_emails(res, digests)
