"""Runs the periodic pass in worker processes, one at a time cluster-wide: the pipeline
reconciler, the delivery sweeper, enqueuing the digests that are due (sent by actors), and
releasing the suggestions that waited for an organisation's daily budget."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import dramatiq
import redis

from api.auth.sessions import prune_sessions
from api.calls.reminders import calls_pass
from api.matching.replica import prune_tombstones
from api.models.base import utcnow
from api.notifications.delivery import sweep
from api.notifications.digest import enqueue_due_digests
from api.operations.doctor import ready_messages
from api.pipeline.service import ReconcilePolicy, reconcile
from api.postings.service import prune_request_keys
from api.suggestions.capacity import release_waiting
from workers import resources

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
        now = utcnow()
        with res.unit_of_work() as uow:
            busy = frozenset(queue for queue, waiting in ready_messages(res.redis).items() if waiting)
            report = reconcile(uow.session, jobs=uow.jobs, policy=self.policy, busy_queues=busy)
            deliveries = sweep(
                uow.session,
                jobs=uow.jobs,
                now=now,
                stale_after=self.policy.stale_after,
                max_attempts=res.settings.delivery_max_attempts,
            )
            digests = enqueue_due_digests(uow.session, jobs=uow.jobs, now=now)
            released = release_waiting(uow.session, jobs=uow.jobs, budget=res.match_policy.budget, now=now)
            pruned = prune_sessions(uow.session, now=now)
            tombstones = prune_tombstones(uow.session, now=now)
            prune_request_keys(uow.session, now=now)
        # Its own transaction: a failing calls pass never undoes the postings' reconciliation.
        with res.unit_of_work() as uow:
            calls = calls_pass(uow.session, jobs=uow.jobs, settings=res.settings, now=now, busy_queues=busy)
        if any(calls.values()):
            log.info("reconciler: calls %s", calls)
        if report.requeued or report.failed or report.expired:
            log.info("reconciler: %s", report)
        if deliveries.requeued or deliveries.failed or digests:
            log.info("reconciler: %s, %d digests due", deliveries, digests)
        if released:
            log.info("reconciler: %d waiting suggestions released within their budgets", released)
        if pruned or tombstones:
            log.info("reconciler: %d ended sessions and %d old tombstones deleted", pruned, tombstones)
