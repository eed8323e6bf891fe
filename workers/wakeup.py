"""Idle consumers that wake when a message is enqueued, instead of polling Redis.

Dramatiq's Redis consumer sleeps between fetches when its queue is empty (up to the worker's
idle timeout), so every pipeline hop waited half that timeout on average. Here an idle consumer
waits on an event instead; one listener thread per worker process subscribes to the wake
channels (`api.core.jobs.RingOnEnqueue` publishes on them after each enqueue) and sets the
event of the queue that was rung. Every idle consumer of that queue, in every process, fetches
at once; those that find nothing go back to waiting.

Nothing here carries a message: the ring is a hint, the message is in its Redis queue as
before and is fetched, acked and recovered (heartbeats, maintenance) by Dramatiq itself. A ring
lost while the listener reconnects costs one fallback wait (`worker_idle_poll_ms`), nothing else.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import compute_backoff

from api.core.jobs import WAKE_CHANNEL_PREFIX, wake_channel

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0


class Doorbells:
    """One event per queue, set by the wake channel; started on first use."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._events: defaultdict[str, threading.Event] = defaultdict(threading.Event)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self.pattern = wake_channel(client, "*")
        self._prefix = self.pattern[:-1]

    def event(self, queue_name: str) -> threading.Event:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._listen, name="wake-listener", daemon=True)
                self._thread.start()
            return self._events[queue_name]

    def ring(self, queue_name: str) -> None:
        with self._lock:
            event = self._events.get(queue_name)
        if event is not None:
            event.set()

    def stop(self) -> None:
        self._stopped.set()

    def _listen(self) -> None:
        while not self._stopped.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.psubscribe(self.pattern)
                # Rings missed while (re)connecting: wake everyone once, they fetch and go back.
                self._ring_all()
                while not self._stopped.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "pmessage":
                        channel = message["channel"].decode()
                        self.ring(channel[len(self._prefix) :])
            except (redis.RedisError, OSError) as exc:
                log.debug("wake-up listener disconnected (%s); consumers poll meanwhile", exc)
                self._stopped.wait(RECONNECT_SECONDS)
            finally:
                try:
                    pubsub.close()
                except Exception:  # noqa: BLE001 (closing a broken connection)
                    pass

    def _ring_all(self) -> None:
        with self._lock:
            events = list(self._events.values())
        for event in events:
            event.set()


class _WakeableConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer whose idle wait ends as soon as its queue is rung."""

    def __init__(self, broker: WakeableRedisBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        # The parent sleeps `timeout` when a fetch finds nothing: 0 here, the wait is ours.
        super().__init__(broker, queue_name, prefetch, 0)
        self.idle_ms = timeout
        self.bell = broker.doorbells.event(queue_name)

    def __next__(self):  # type: ignore[no-untyped-def]
        full = not self.message_cache and self.outstanding_message_count >= self.prefetch
        if not full:
            # Cleared before the fetch: a ring for a message the fetch misses comes after it,
            # and ends the wait below at once.
            self.bell.clear()
        message = super().__next__()
        if message is None:
            if full:
                # No fetch was made: our threads hold `prefetch` messages, and their acks are
                # handled between two calls. Back off briefly, as Dramatiq does, so a freed
                # slot is refilled soon (a ring would not come for messages already queued).
                _, backoff_ms = compute_backoff(self.misses, max_backoff=self.idle_ms)
                time.sleep(backoff_ms / 1000)
            else:
                self.bell.wait(self.idle_ms / 1000)
        return message


class WakeableRedisBroker(RedisBroker):
    """The Redis broker whose consumers wait for a ring, polling only as a fallback."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.doorbells = Doorbells(self.client)

    @property
    def consumer_class(self):  # type: ignore[no-untyped-def]
        return _WakeableConsumer

    def close(self) -> None:
        self.doorbells.stop()
        super().close()


__all__ = ["WAKE_CHANNEL_PREFIX", "Doorbells", "WakeableRedisBroker"]
