"""Dead letters on the real Redis broker with a real in-process Dramatiq worker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
import redis
from click.testing import CliRunner
from prometheus_client import REGISTRY

import workers
from api.cli import main
from api.core.settings import Settings, override_settings
from api.operations.deadletters import count_dead_letters, list_dead_letters, retry_dead_letters, subject_of
from tests.helpers import wait_for
from workers.broker import ACTOR_POLICIES, actor_policy, make_broker

QUEUE = "opstest"


class Flaky:
    """An actor that fails until it is fixed."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self.broken = True
        self.done: list[int] = []

        def flaky(posting_id: int) -> None:
            if self.broken:
                raise RuntimeError(f"printer on fire for {posting_id}")
            self.done.append(posting_id)

        self.actor = dramatiq.actor(
            flaky, actor_name="postings.embed", queue_name=QUEUE, broker=broker, max_retries=0
        )


@pytest.fixture
def ops(redis_url: str, tmp_path) -> Iterator[tuple[dramatiq.Broker, redis.Redis, Flaky]]:  # type: ignore[no-untyped-def]
    settings = Settings(redis_url=redis_url, environment="test", data_dir=tmp_path, worker_idle_poll_ms=50)
    broker = make_broker(settings)
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    flaky = Flaky(broker)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    override_settings(settings)
    try:
        yield broker, client, flaky
    finally:
        override_settings(None)
        worker.stop()
        broker.close()
        client.flushdb()
        client.close()


def test_a_message_that_exhausts_its_retries_is_listed_with_its_error_and_succeeds_when_retried(ops):
    broker, client, flaky = ops
    labels = {"queue": QUEUE, "actor": "postings.embed", "outcome": "dead"}
    dead_before = REGISTRY.get_sample_value("clustermatch_messages_total", labels) or 0
    flaky.actor.send(41)
    wait_for(lambda: count_dead_letters(client) == 1, timeout=20, what="the message to be dead-lettered")
    assert REGISTRY.get_sample_value("clustermatch_messages_total", labels) == dead_before + 1

    [letter] = list_dead_letters(client)
    assert (letter.actor, letter.args, letter.queue) == ("postings.embed", [41], QUEUE)
    assert letter.subject == "posting 41"
    assert letter.error == "RuntimeError: printer on fire for 41"
    assert "printer on fire" in letter.traceback

    listed = CliRunner().invoke(main, ["jobs", "failed", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [row["id"] for row in json.loads(listed.output)] == [letter.id]

    flaky.broken = False
    assert [sent.id for sent in retry_dead_letters(client, broker, [letter.id])] == [letter.id]
    wait_for(lambda: flaky.done == [41], timeout=20, what="the retried message to succeed")
    assert count_dead_letters(client) == 0
    # Retrying again sends nothing: the dead letter is gone.
    assert retry_dead_letters(client, broker, [letter.id]) == []
    assert flaky.done == [41]


def test_jobs_retry_all_resends_every_dead_letter_and_an_unknown_id_fails(ops):
    broker, client, flaky = ops
    flaky.actor.send(1)
    flaky.actor.send(2)
    wait_for(lambda: count_dead_letters(client) == 2, timeout=20, what="two dead letters")
    table = CliRunner().invoke(main, ["jobs", "failed"])
    assert "2 dead letter(s)" in table.output and "printer on fire for 2" in table.output

    flaky.broken = False
    result = CliRunner().invoke(main, ["jobs", "retry", "--all"])
    assert result.exit_code == 0, result.output
    wait_for(lambda: sorted(flaky.done) == [1, 2], timeout=20, what="both retried messages")
    assert count_dead_letters(client) == 0

    unknown = CliRunner().invoke(main, ["jobs", "retry", "no-such-id"])
    assert unknown.exit_code != 0 and "no dead letter with id no-such-id" in unknown.output


def test_subject_names_the_posting_or_delivery_a_message_is_about():
    assert subject_of("matching.match_posting", [7, 2]) == "posting 7"
    assert subject_of("notifications.deliver", [12]) == "delivery 12"
    assert subject_of("notifications.dispatch", [[3, 4]]) == "notifications 3, 4"
    assert subject_of("something.else", [1]) == "-"


def test_every_actor_takes_its_retry_and_time_policy_from_the_one_table():
    for module in Path(workers.__file__).parent.glob("*actors.py"):
        source = module.read_text()
        assert source.count("@dramatiq.actor(") == source.count("**actor_policy(") > 0, module.name
    for name, policy in ACTOR_POLICIES.items():
        assert set(policy) == {"max_retries", "min_backoff", "max_backoff", "time_limit"}, name
    with pytest.raises(KeyError, match="no line in workers.broker.ACTOR_POLICIES"):
        actor_policy("nobody.knows")


def test_the_admin_page_lists_dead_letters_and_its_button_retries_one(ops, client, settings):
    from api.auth.service import create_user
    from api.core.db import sessions_for, unit_of_work
    from api.models.enums import Role
    from tests.helpers import csrf_of, web_login

    broker, redis_client, flaky = ops
    flaky.actor.send(5)
    wait_for(lambda: count_dead_letters(redis_client) == 1, timeout=20, what="a dead letter")
    with unit_of_work(sessions_for(settings.resolved_database_url)) as session:
        create_user(session, email="admin@example.it", password="a-long-password", role=Role.admin)
    web_login(client, "admin@example.it")
    page = client.get("/admin")
    assert page.status_code == 200
    assert "RuntimeError: printer on fire for 5" in page.text and "posting 5" in page.text
    [letter] = list_dead_letters(redis_client)
    assert f'name="job_id" value="{letter.id}"' in page.text

    flaky.broken = False
    answer = client.post(
        "/admin/jobs/retry", data={"job_id": letter.id, "csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert answer.status_code in (302, 303) and "retried=1" in answer.headers["location"]
    wait_for(lambda: flaky.done == [5], timeout=20, what="the retried job")
    assert "Nessun lavoro fallito." in client.get("/admin", headers={"Accept-Language": "it"}).text
