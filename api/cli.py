"""The `clustermatch` command line."""

from __future__ import annotations

import os
import signal
import time

import click

from api.settings import get_settings


@click.group()
def main() -> None:
    """clustermatch: matchmaking for the Emilia-Romagna innovation clusters."""


def _settings():  # type: ignore[no-untyped-def]
    from api.logging_setup import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    return settings


def _sessions(settings):  # type: ignore[no-untyped-def]
    from api.db import sessions_for

    return sessions_for(settings.resolved_database_url)


def _flush_jobs(settings, jobs) -> int:  # type: ignore[no-untyped-def]
    from api.jobs import enqueue_broker
    from api.redis_server import redis_url

    broker = enqueue_broker(redis_url(settings))
    try:
        return jobs.flush(broker)
    finally:
        broker.close()


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from api.migrate import upgrade

    settings = _settings()
    upgrade(settings.resolved_database_url)
    click.echo(f"database at head: {settings.resolved_database_url}")


@main.command()
@click.option("--demo", is_flag=True, required=True, help="Load the demo organisations and postings.")
def seed(demo: bool) -> None:
    """Load the demo data set (idempotent) and print the demo logins."""
    from api.db import unit_of_work
    from api.demo.seed import format_logins, seed_demo
    from api.jobs import JobBuffer

    settings = _settings()
    jobs = JobBuffer()
    with unit_of_work(_sessions(settings)) as session:
        logins = seed_demo(session, jobs=jobs)
    unsent = _flush_jobs(settings, jobs)
    if logins.already_loaded:
        click.echo("demo already loaded")
    else:
        click.echo(
            f"demo loaded: {logins.postings} postings"
            + (f" ({unsent} to be enqueued by the reconciler)" if unsent else "")
        )
    click.echo(format_logins(logins))


@main.group()
def users() -> None:
    """Manage accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", type=click.Choice(["member", "facilitator", "admin"]), default="facilitator")
@click.option("--cluster", "clusters", multiple=True, help="S3 area key; repeat for several.")
@click.option("--organisation-id", type=int, default=None, help="For members: their organisation.")
def create_user_command(
    email: str, password: str, role: str, clusters: tuple[str, ...], organisation_id: int | None
) -> None:
    """Create a facilitator, an admin or a member of an existing organisation."""
    from api.auth.service import create_user
    from api.db import unit_of_work
    from api.errors import DomainError
    from api.models import Organisation
    from api.models.enums import Role

    settings = _settings()
    try:
        with unit_of_work(_sessions(settings)) as session:
            organisation = session.get(Organisation, organisation_id) if organisation_id else None
            if organisation_id and organisation is None:
                raise click.ClickException(f"organisation {organisation_id} does not exist")
            user = create_user(
                session,
                email=email,
                password=password,
                role=Role(role),
                organisation=organisation,
                clusters=list(clusters),
            )
            click.echo(f"created {user.role} {user.email} (id {user.id})")
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


@main.command()
def api() -> None:
    """Serve the HTTP API and pages (uvicorn)."""
    import uvicorn

    settings = _settings()
    uvicorn.run("api.app:create_app", factory=True, host=settings.host, port=settings.port)


@main.command()
@click.option("--processes", type=int, default=None)
@click.option("--threads", type=int, default=None)
def worker(processes: int | None, threads: int | None) -> None:
    """Run Dramatiq worker processes for all queues."""
    from api.processes import worker_command

    command = worker_command(_settings(), processes=processes, threads=threads)
    os.execv(command[0], command)


@main.command()
@click.option("--reembed", is_flag=True, help="Embed again every open posting, not only stale ones.")
def reindex(reembed: bool) -> None:
    """Rebuild the index from the database: refresh stale vectors, then load and check them."""
    from api.indexing import rebuild_index

    settings = _settings()
    report = rebuild_index(settings, _sessions(settings), reembed=reembed)
    click.echo(
        f"reindexed: {report.embedded} postings embedded, {report.deactivated} closed removed, "
        f"index holds {report.needs} needs and {report.offers} offers"
    )


@main.command()
def reconcile() -> None:
    """One reconciler pass: re-enqueue stuck postings now."""
    from datetime import timedelta

    from api.db import unit_of_work
    from api.jobs import JobBuffer
    from api.pipeline.service import ReconcilePolicy
    from api.pipeline.service import reconcile as run_reconcile

    settings = _settings()
    jobs = JobBuffer()
    policy = ReconcilePolicy(
        timedelta(seconds=settings.reconcile_stale_seconds), settings.pipeline_max_attempts
    )
    with unit_of_work(_sessions(settings)) as session:
        report = run_reconcile(session, jobs=jobs, policy=policy)
    _flush_jobs(settings, jobs)
    click.echo(f"reconciled: {report}")


@main.command()
@click.option("--demo/--no-demo", default=True, help="Load the demo data on start.")
def run(demo: bool) -> None:
    """Run everything locally: migrate, embedded Redis, workers, API (Ctrl-C stops all)."""
    from api.processes import api_command, start, stop_all, worker_command
    from api.redis_server import redis_url, start_embedded_redis

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    started = []
    redis_process = None if settings.redis_url else start_embedded_redis(settings)
    env = {
        **os.environ,
        "CLUSTERMATCH_REDIS_URL": redis_url(settings),
        "CLUSTERMATCH_DATA_DIR": str(settings.data_dir.resolve()),
    }
    # Explicit, so Ctrl-C works even where the shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        ctx = click.get_current_context()
        ctx.invoke(migrate)
        if demo:
            ctx.invoke(seed, demo=True)
        started.append(start(worker_command(settings), env))
        started.append(start(api_command(settings), env))
        click.echo(
            f"\nclustermatch is starting on http://{settings.host}:{settings.port}  (Ctrl-C stops it)\n"
        )
        while all(p.poll() is None for p in started):
            time.sleep(0.5)
        click.echo("a process exited; stopping the others", err=True)
    except KeyboardInterrupt:
        click.echo("\nstopping…")
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all([*started, *([redis_process] if redis_process else [])])


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
