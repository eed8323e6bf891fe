"""`clustermatch doctor`: the pure judgement of facts, and the command on a real DB and Redis."""

from __future__ import annotations

import json
from datetime import timedelta

import dramatiq
import redis
from click.testing import CliRunner
from sqlalchemy import update

from api.cli import main
from api.core.db import sessions_for, unit_of_work
from api.core.jobs import JobBuffer
from api.core.settings import override_settings
from api.models import Posting
from api.models.base import utcnow
from api.operations.doctor import Facts, Stuck, Thresholds, diagnose, worst
from tests import factories
from tests.samples import VISION_NEED

LIMITS = Thresholds(stale_seconds=60, heartbeat_seconds=15)


def healthy() -> Facts:
    return Facts(
        model_location="/models/minilm",
        open_postings={"need": 3, "offer": 2},
        indexed={"need": 3, "offer": 2},
        index_generation=1,
        pipeline={"pending": Stuck(0, 0), "embedded": Stuck(1, 5)},
        deliveries={"sent": Stuck(9, 3000), "pending": Stuck(1, 2)},
        queues={"embedding": 0, "matching": 1},
        dead_letters=0,
        heartbeats={"host-1": 2.0},
    )


def levels(facts: Facts) -> dict[str, str]:
    return {finding.check: finding.level for finding in diagnose(facts, LIMITS)}


def test_a_healthy_platform_has_only_ok_findings():
    findings = diagnose(healthy(), LIMITS)
    assert worst(findings) == "ok", [f for f in findings if f.level != "ok"]
    assert {"database", "redis", "model", "index.need", "pipeline.pending", "dead_letters"} <= {
        f.check for f in findings
    }


def test_a_posting_late_warns_and_one_stuck_past_ten_stale_periods_fails():
    late = healthy()
    late.pipeline["pending"] = Stuck(2, 90)
    assert levels(late)["pipeline.pending"] == "warn"
    assert worst(diagnose(late, LIMITS)) == "warn"
    stuck = healthy()
    stuck.pipeline["embedded"] = Stuck(1, 601)
    assert levels(stuck)["pipeline.embedded"] == "fail"


def test_dead_letters_failed_postings_and_failed_deliveries_fail():
    facts = healthy()
    facts.dead_letters = 2
    facts.failed_postings = 1
    facts.deliveries = {"failed": Stuck(3, 100), "pending": Stuck(1, 700)}
    got = levels(facts)
    assert (got["dead_letters"], got["pipeline.failed"], got["deliveries.failed"]) == ("fail",) * 3
    assert got["deliveries.pending"] == "fail"


def test_unreachable_parts_fail_and_their_dependent_checks_are_not_guessed():
    facts = Facts(database_error="unreachable: OperationalError", redis_error="unreachable: ConnectionError")
    facts.model_error = "missing: no model files in /x"
    findings = diagnose(facts, LIMITS)
    assert {f.check: f.level for f in findings} == {"database": "fail", "redis": "fail", "model": "fail"}


def test_postings_missing_from_the_index_fail_and_closed_ones_still_indexed_warn():
    facts = healthy()
    facts.missing_from_index = {"offer": 1}
    facts.closed_still_indexed = {"need": 2}
    got = levels(facts)
    assert (got["index.offer"], got["index.need"]) == ("fail", "warn")


def test_no_live_worker_warns():
    facts = healthy()
    facts.heartbeats = {}
    assert levels(facts)["workers"] == "warn"


def test_a_silent_worker_and_a_deep_queue_warn():
    facts = healthy()
    facts.heartbeats = {"host-2": 40.0}
    facts.queues = {"embedding": 5000}
    got = levels(facts)
    assert (got["worker.host-2"], got["queue.embedding"]) == ("warn", "warn")


def test_doctor_exits_zero_when_healthy_and_one_with_a_stuck_posting_or_a_dead_letter(settings, redis_url):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    override_settings(settings)
    try:
        ok = CliRunner().invoke(main, ["doctor", "--json"])
        assert ok.exit_code == 0, ok.output
        report = json.loads(ok.output)
        # No worker runs in this test: that is the one warning.
        assert report["status"] == "warn"
        assert [f["check"] for f in report["findings"] if f["level"] != "ok"] == ["workers"]
        assert report["facts"]["open_postings"] == {"need": 0, "offer": 0}

        sessions = sessions_for(settings.resolved_database_url)
        with unit_of_work(sessions) as session:
            posting = factories.posting(
                session, JobBuffer(), factories.member(session, "company"), VISION_NEED
            )
            posting_id = posting.id
        with unit_of_work(sessions) as session:
            session.execute(
                update(Posting)
                .where(Posting.id == posting_id)
                .values(pipeline_updated_at=utcnow() - timedelta(hours=1))
            )
        stuck = CliRunner().invoke(main, ["doctor"])
        assert stuck.exit_code == 1, stuck.output
        assert "FAIL  pipeline.pending" in stuck.output and "1 open posting(s)" in stuck.output

        with unit_of_work(sessions) as session:
            session.execute(update(Posting).values(pipeline_state="matched", pipeline_updated_at=utcnow()))
        # A matched posting with no vector is missing from the index: also a failure.
        assert CliRunner().invoke(main, ["doctor"]).exit_code == 1
        with unit_of_work(sessions) as session:
            session.execute(update(Posting).values(status="closed"))
        assert CliRunner().invoke(main, ["doctor"]).exit_code == 0

        client.zadd("dramatiq:embedding.XQ", {"dead-1": 1_700_000_000_000})
        dead = CliRunner().invoke(main, ["doctor", "--json"])
        assert dead.exit_code == 1
        assert json.loads(dead.output)["facts"]["dead_letters"] == 1

        # Found by fault injection: an outage dead-letters the embedding of a posting that the
        # reconciler then matched; doctor says so, and stays green.
        client.delete("dramatiq:embedding.XQ")
        message = dramatiq.Message(
            queue_name="embedding", actor_name="postings.embed", args=(posting_id, 1), kwargs={}, options={}
        )
        client.zadd("dramatiq:embedding.XQ", {message.message_id: 1_700_000_000_000})
        client.hset("dramatiq:embedding.XQ.msgs", message.message_id, message.encode())
        settled = CliRunner().invoke(main, ["doctor"])
        assert settled.exit_code == 0 and "WARN  dead_letters" in settled.output, settled.output
        with unit_of_work(sessions) as session:
            session.execute(update(Posting).values(pipeline_state="embedded", revision=2))
        assert CliRunner().invoke(main, ["doctor"]).exit_code == 1
    finally:
        override_settings(None)
        client.flushdb()
        client.close()
