"""Metrics on /metrics and on the workers; JSON logs; a request id from the POST to its jobs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from api.http.app import create_app
from api.operations.logs import JsonFormatter, install_record_context, request_id_var
from api.operations.metrics import may_scrape
from tests.helpers import register
from tests.samples import VISION_NEED, VISION_OFFER

TOKEN = "scrape-token-for-tests"


@pytest.fixture
def metrics_client(settings) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings.model_copy(update={"metrics_token": TOKEN}))) as client:
        yield client


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests_of(samples, route: str, status: str) -> float:  # type: ignore[no-untyped-def]
    key = ("clustermatch_http_requests_total", (("method", "GET"), ("route", route), ("status", status)))
    return samples.get(key, 0.0)


def test_metrics_count_requests_by_route_template_and_status(metrics_client):
    before = scrape(metrics_client)
    assert metrics_client.get("/healthz").status_code == 200
    assert metrics_client.get("/api/v1/postings/424242").status_code == 401
    after = scrape(metrics_client)
    assert requests_of(after, "/healthz", "200") == requests_of(before, "/healthz", "200") + 1
    template = "/api/v1/postings/{posting_id}"
    assert requests_of(after, template, "401") == requests_of(before, template, "401") + 1
    # The raw path never becomes a label: cardinality stays bounded.
    assert not any("424242" in str(labels) for _, labels in after)
    assert (
        "clustermatch_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/healthz")),
    ) in after


def test_metrics_are_refused_without_the_token_or_with_a_wrong_one(metrics_client):
    assert metrics_client.get("/metrics").status_code == 403
    assert metrics_client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 403


def test_without_a_token_only_loopback_clients_may_scrape():
    assert may_scrape(token=None, authorization=None, client_host="127.0.0.1")
    assert may_scrape(token=None, authorization=None, client_host="::1")
    assert not may_scrape(token=None, authorization=None, client_host="10.0.0.8")
    assert not may_scrape(token="s", authorization=None, client_host="127.0.0.1")
    assert may_scrape(token="s", authorization="Bearer s", client_host="10.0.0.8")


def test_a_json_log_line_carries_the_request_id():
    install_record_context()
    token = request_id_var.set("req-123")
    try:
        record = logging.getLogger("x").makeRecord("x", logging.INFO, __file__, 1, "posting %s", (7,), None)
    finally:
        request_id_var.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert (line["message"], line["request_id"], line["level"]) == ("posting 7", "req-123", "INFO")
    assert "message_id" not in line


def test_a_request_id_is_echoed_or_made_and_a_bad_one_is_replaced(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-1"}).headers["x-request-id"] == "abc-1"
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "a b\tc"}).headers["x-request-id"] != "a b\tc"


def test_the_request_id_of_a_post_follows_the_posting_into_its_worker_jobs(client, pipeline, caplog):
    caplog.set_level(logging.INFO)
    # `clustermatch eval`, run in-process by other tests, quiets the "api" loggers for good.
    caplog.set_level(logging.INFO, logger="api")
    lab = register(client, org_type="research_lab")
    client.post("/api/v1/postings", json=VISION_OFFER, headers=lab["headers"])
    company = register(client)
    done_before = REGISTRY.get_sample_value(
        "clustermatch_messages_total", {"queue": "embedding", "actor": "postings.embed", "outcome": "done"}
    )
    response = client.post(
        "/api/v1/postings", json=VISION_NEED, headers={**company["headers"], "X-Request-ID": "post-need-77"}
    )
    assert response.status_code == 201, response.text
    assert response.headers["x-request-id"] == "post-need-77"
    posting_id = response.json()["id"]
    pipeline.drain()

    ours = [r for r in caplog.records if getattr(r, "request_id", None) == "post-need-77"]
    embedded = [r for r in ours if r.getMessage().startswith(f"posting {posting_id} r1 embedded")]
    matched = [r for r in ours if r.getMessage().startswith(f"posting {posting_id} r1 matched")]
    assert embedded and matched, [r.getMessage() for r in ours]
    # Each job's lines carry its own message id besides the request's.
    assert (
        embedded[0].message_id and matched[0].message_id and embedded[0].message_id != matched[0].message_id
    )
    done_after = REGISTRY.get_sample_value(
        "clustermatch_messages_total", {"queue": "embedding", "actor": "postings.embed", "outcome": "done"}
    )
    assert done_after >= (done_before or 0) + 1
    assert REGISTRY.get_sample_value("clustermatch_pipeline_stage_seconds_count", {"stage": "matching"}) >= 1


def test_each_worker_process_serves_its_metrics_on_the_first_free_port():
    import httpx

    from api.operations.metrics import WorkerMetricsServer
    from tests.e2e.stack import free_port

    class NoRedis:  # the queue sampler needs a Redis client; this broker has none
        pass

    port = free_port()
    first, second = WorkerMetricsServer("127.0.0.1", port), WorkerMetricsServer("127.0.0.1", port)
    first.after_worker_boot(NoRedis(), None)
    second.after_worker_boot(NoRedis(), None)
    # the next port may belong to another process on a shared machine: the second server
    # takes the first free one after the first's, wherever that is
    assert first.bound_port == port and second.bound_port > port
    body = httpx.get(f"http://127.0.0.1:{second.bound_port}/", timeout=5).text
    assert "clustermatch_messages_total" in body and "clustermatch_deliveries_total" in body


def test_the_access_log_never_keeps_a_secret_from_a_query_string(caplog):
    install_record_context()
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            "/api/v1/notifications/stream?access_token=eyJhbGciOi.secret&after=3&csrf_token=abc",
            "1.1",
            401,
        )
    line = caplog.records[-1].getMessage()
    assert "eyJhbGciOi" not in line and "abc" not in line
    assert "access_token=[redacted]&after=3&csrf_token=[redacted]" in line
