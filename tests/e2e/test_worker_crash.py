"""A worker killed with SIGKILL mid-flight loses no posting and duplicates nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.matching.service import MatchPolicy
from tests.e2e.expectations import (
    check_suggestions,
    demo_bodies,
    new_suggestion_notifications,
    pairs_found_and_expected,
    register_demo_members,
)
from tests.e2e.stack import Stack
from tests.e2e.test_pipeline_e2e import pipeline_state, wait_matched
from tests.helpers import wait_for
from tests.infra import migrated_database

pytestmark = pytest.mark.e2e


@pytest.fixture
def crash_stack(redis_url: str, tmp_path) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    with migrated_database("sqlite", tmp_path) as database_url:
        stack = Stack(
            database_url=database_url, redis_url=redis_url, data_dir=tmp_path, match_max_per_posting=100
        )
        try:
            stack.start_api()
            yield stack
        finally:
            stack.stop()


def test_killing_a_worker_mid_flight_loses_no_posting_and_duplicates_nothing(crash_stack):
    stack = crash_stack
    with stack.client() as client:
        posted = []
        for body, member in demo_bodies(register_demo_members(client)):
            response = client.post("/api/v1/postings", json=body, headers=member["headers"])
            assert response.status_code == 201
            posted.append((response.json(), member))

        def states() -> list[str]:
            return [pipeline_state(client, p, m["headers"]) for p, m in posted]

        doomed = stack.start_worker(processes=1, threads=1)
        wait_for(lambda: "matched" in states(), timeout=90, interval=0.05, what="the first match")
        stack.kill_worker(doomed)
        left = sum(state != "matched" for state in states())
        assert left > 0, "the worker finished everything before it was killed: nothing was tested"

        stack.start_worker(processes=1, threads=2)
        for posting, member in posted:
            assert wait_matched(client, posting, member["headers"], timeout=120) == "matched"

    ids = {posting["id"] for posting, _ in posted}
    policy = MatchPolicy.from_settings(stack.settings)
    found, expected = pairs_found_and_expected(stack.settings.resolved_database_url, ids, policy)
    check_suggestions(found, expected, policy.calibration.threshold)
    total, distinct = new_suggestion_notifications(stack.settings.resolved_database_url)
    assert total == distinct == 2 * len(found), _notification_counts(stack.settings.resolved_database_url)
    print(f"killed with {left} of {len(posted)} postings unfinished")


def _notification_counts(url):  # type: ignore[no-untyped-def]
    from collections import Counter

    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as c:
        rows = c.execute(
            text("select recipient_id, payload, dedupe_key from notifications where kind='suggestion.new'")
        ).all()
        sugg = c.execute(text("select id, need_id, offer_id, status from suggestions")).all()
    counts = Counter(r.dedupe_key.split(":")[1] for r in rows)
    return [(s, counts.get(str(s.id))) for s in sugg if counts.get(str(s.id)) != 2]
