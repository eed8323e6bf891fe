"""`clustermatch run` keeps serving through a worker's death and stops gracefully on SIGTERM."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli.processes import STOP_GRACE_SECONDS
from tests.e2e.supervised import (
    OwnRedis,
    Poller,
    SupervisedRun,
    duplicates,
    ingest_postings,
    post_with_retry,
    states,
    wait_all_matched,
)
from tests.e2e.test_pipeline_e2e import wait_matched
from tests.helpers import register, wait_for
from tests.samples import VISION_NEED, VISION_OFFER

pytestmark = pytest.mark.e2e

# Generous for a 2-core machine shared with other runs: a worker boot loads the model.
RECOVERY_BOUND_SECONDS = 150
SHUTDOWN_TIMEOUT_MS = 5000


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.timeout(600)
def test_a_killed_worker_is_restarted_while_the_api_answers_and_a_posting_sent_right_after_is_matched(
    tmp_path, own_redis
):
    run = SupervisedRun(tmp_path, own_redis.url, worker_processes=1, worker_threads=2)
    try:
        run.start()
        with run.client() as client:
            company = register(client, org_type="company")
            lab = register(client, org_type="research_lab")
            offer = client.post("/api/v1/postings", json=VISION_OFFER, headers=lab["headers"]).json()
            assert wait_matched(client, offer, lab["headers"], timeout=120) == "matched"

            poller = Poller(run.base_url)
            poller.start()
            killed = run.kill_workers()
            assert len(killed) == 1
            started = time.monotonic()
            response = client.post("/api/v1/postings", json=VISION_NEED, headers=company["headers"])
            assert response.status_code == 201
            need = response.json()
            assert wait_matched(client, need, company["headers"], timeout=RECOVERY_BOUND_SECONDS) == "matched"
            matched_after = time.monotonic() - started
            poller.halt.set()
            poller.join(5)

            suggestions = client.get("/api/v1/suggestions", headers=company["headers"]).json()
        assert poller.failures == [] and poller.ok > 20, poller.failures[:5]
        assert run.worker_pids() and run.worker_pids() != killed
        assert [s["offer"]["id"] for s in _items(suggestions)] == [offer["id"]]
        log = (tmp_path / "run-1.log").read_text(errors="replace")
        assert "worker-1" in log and "restarting in" in log
        print(
            f"posting sent right after the kill matched in {matched_after:.1f} s; /healthz {poller.ok}x 200"
        )
    except BaseException:
        print(run.logs())
        raise
    finally:
        run.stop()


@pytest.mark.timeout(600)
def test_sigterm_mid_ingest_exits_within_the_shutdown_timeout_and_a_restart_matches_everything(
    tmp_path, own_redis
):
    run = SupervisedRun(
        tmp_path,
        own_redis.url,
        worker_processes=1,
        worker_threads=2,
        worker_shutdown_timeout_ms=SHUTDOWN_TIMEOUT_MS,
    )
    ingest = ingest_postings(extra=0)
    try:
        run.start()
        with run.client() as client:
            members = ingest.register_members(client)
            results = [post_with_retry(client, body, members[key]) for body, key in ingest.bodies[:24]]
            wait_for(lambda: "matched" in states(client, results), timeout=120, interval=0.1, what="a match")
            left = sum(state != "matched" for state in states(client, results))
            took = run.terminate()
        assert left > 0, "everything was matched before SIGTERM: nothing was tested"
        assert run.process.returncode == 0
        # The workers' shutdown timeout plus the supervisor's grace is the most it may take.
        assert took <= SHUTDOWN_TIMEOUT_MS / 1000 + STOP_GRACE_SECONDS, took
        log = (tmp_path / "run-1.log").read_text(errors="replace")
        assert "Worker has been shut down" in log
        assert "Killing worker process" not in log  # one SIGTERM each: a drain, not a kill

        run.start()
        with run.client() as client:
            drained = wait_all_matched(client, results, timeout=RECOVERY_BOUND_SECONDS)
            assert states(client, results) == ["matched"] * len(results)
        found = duplicates(run.database_url, tmp_path / "outbox")
        assert {k: v for k, v in found.items() if k != "emails_total"} == dict.fromkeys(
            [k for k in found if k != "emails_total"], 0
        )
        print(
            f"SIGTERM with {left} of {len(results)} unfinished: exited in {took:.1f} s; "
            f"after the restart all matched in {drained:.1f} s; duplicates {found}"
        )
    except BaseException:
        print(run.logs())
        raise
    finally:
        run.stop()


def _items(page):  # type: ignore[no-untyped-def]
    return page["items"] if isinstance(page, dict) else page
