"""Idle consumers wake on an enqueue (Redis pub/sub ring) and still fetch through Dramatiq."""

from __future__ import annotations

import dramatiq

from api.core.jobs import RingOnEnqueue, enqueue_broker, wake_channel
from workers.wakeup import WakeableRedisBroker

QUEUE = "wakeup-test"


def test_an_enqueue_from_another_process_rings_the_idle_consumer_of_its_queue(redis_url):
    worker_side = WakeableRedisBroker(url=redis_url, middleware=[RingOnEnqueue()])
    sender = enqueue_broker(redis_url)
    try:
        worker_side.declare_queue(QUEUE)
        worker_side.flush(QUEUE)
        consumer = worker_side.consume(QUEUE, prefetch=100, timeout=200)
        assert next(consumer) is None  # nothing queued yet
        # The listener subscribes from its own thread: a ring sent before that is lost (the
        # fallback poll covers it), so ring until one is heard.
        for _ in range(50):
            consumer.bell.clear()
            sender.enqueue(dramatiq.Message(queue_name=QUEUE, actor_name="x", args=(), kwargs={}, options={}))
            if consumer.bell.wait(0.5):
                break
        assert consumer.bell.is_set()
        message = next(consumer)
        assert message is not None and message.queue_name == QUEUE
        consumer.ack(message)
    finally:
        worker_side.flush(QUEUE)
        worker_side.close()
        sender.close()


def test_the_wake_channel_names_the_database_so_installations_on_one_server_stay_apart(redis_url):
    broker = enqueue_broker(redis_url)
    try:
        db = broker.client.connection_pool.connection_kwargs.get("db", 0)
        assert wake_channel(broker.client, "embedding") == f"clustermatch:wake:{db}:embedding"
    finally:
        broker.close()


def test_a_delayed_message_does_not_ring(redis_url):
    published = []

    class Client:
        connection_pool = type("Pool", (), {"connection_kwargs": {"db": 3}})()

        def publish(self, channel, data):  # type: ignore[no-untyped-def]
            published.append(channel)

    broker = type("B", (), {"client": Client()})()
    message = dramatiq.Message(queue_name="embedding", actor_name="x", args=(), kwargs={}, options={})
    RingOnEnqueue().after_enqueue(broker, message, delay=5000)
    assert published == []
    RingOnEnqueue().after_enqueue(broker, message, delay=None)
    assert published == ["clustermatch:wake:3:embedding"]
