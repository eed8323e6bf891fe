"""The command line: accounts, demo seed, reconciler pass."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from api.cli import main
from api.core.db import sessions_for, unit_of_work
from api.core.settings import override_settings
from api.models import Posting, User
from api.models.base import utcnow


@pytest.fixture
def cli(settings):  # type: ignore[no-untyped-def]
    override_settings(settings)
    yield CliRunner()
    override_settings(None)


def test_users_create_makes_a_facilitator_with_clusters_and_refuses_duplicates(cli, settings):
    args = [
        "users",
        "create",
        "--email",
        "Facilitatore@Example.it",
        "--password",
        "a-long-password",
        "--role",
        "facilitator",
        "--cluster",
        "agrifood",
        "--cluster",
        "construction",
    ]
    result = cli.invoke(main, args)
    assert result.exit_code == 0, result.output
    with sessions_for(settings.resolved_database_url)() as session:
        user = session.scalar(select(User).where(User.email == "facilitatore@example.it"))
        assert user.role == "facilitator" and user.clusters == ["agrifood", "construction"]
    again = cli.invoke(main, args)
    assert again.exit_code != 0 and "cannot be used for a new account" in again.output
    bad = cli.invoke(
        main,
        ["users", "create", "--email", "x@example.it", "--password", "a-long-password", "--cluster", "space"],
    )
    assert bad.exit_code != 0 and "Unknown cluster" in bad.output


def test_seed_demo_loads_all_areas_once_and_prints_the_logins(cli, settings):
    first = cli.invoke(main, ["seed", "--demo"])
    assert first.exit_code == 0, first.output
    assert "facilitator.agrifood@demo.clustermatch.it" in first.output and "demo-password" in first.output
    sessions = sessions_for(settings.resolved_database_url)
    with sessions() as session:
        postings = session.scalar(select(func.count()).select_from(Posting))
        areas = set(session.scalars(select(Posting.s3_area)))
        languages = set(session.scalars(select(Posting.language)))
    assert postings == 40 and len(areas) == 8 and {"it", "en"} <= languages
    assert "4 funding calls" in first.output  # api/demo/demo_calls.json
    second = cli.invoke(main, ["seed", "--demo"])
    assert "already loaded" in second.output
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Posting)) == 40


def test_reconcile_closes_expired_postings(cli, settings):
    assert cli.invoke(main, ["seed", "--demo"]).exit_code == 0
    sessions = sessions_for(settings.resolved_database_url)
    with unit_of_work(sessions) as session:
        posting = session.scalar(select(Posting).order_by(Posting.id))
        posting.expires_at = utcnow() - timedelta(days=1)
        expired_id = posting.id
    result = cli.invoke(main, ["reconcile"])
    assert result.exit_code == 0 and "expired=1" in result.output
    with sessions() as session:
        assert session.get(Posting, expired_id).status == "closed"
