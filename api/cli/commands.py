"""The `clustermatch` command line."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import click

from api.core.settings import get_settings
from embeddings.lexicon import DEFAULT_LEXICON


@click.group()
def main() -> None:
    """clustermatch: matchmaking for the Emilia-Romagna innovation clusters."""


def _settings():  # type: ignore[no-untyped-def]
    from api.core.logging_setup import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.resolved_log_format)
    return settings


def _sessions(settings):  # type: ignore[no-untyped-def]
    from api.core.db import sessions_for

    return sessions_for(settings.resolved_database_url)


def _flush_jobs(settings, jobs) -> int:  # type: ignore[no-untyped-def]
    from api.core.jobs import enqueue_broker
    from api.core.redis_server import redis_url

    broker = enqueue_broker(redis_url(settings))
    try:
        return jobs.flush(broker)
    finally:
        broker.close()


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from api.core.migrate import upgrade

    settings = _settings()
    upgrade(settings.resolved_database_url)
    click.echo(f"database at head: {settings.resolved_database_url}")


@main.command()
@click.option("--demo", is_flag=True, required=True, help="Load the demo organisations and postings.")
def seed(demo: bool) -> None:
    """Load the demo data set (idempotent) and print the demo logins."""
    from api.core.db import unit_of_work
    from api.core.jobs import JobBuffer
    from api.demo.seed import format_logins, seed_demo

    settings = _settings()
    jobs = JobBuffer()
    with unit_of_work(_sessions(settings)) as session:
        logins = seed_demo(session, jobs=jobs)
    unsent = _flush_jobs(settings, jobs)
    if logins.already_loaded:
        click.echo("demo already loaded")
    else:
        click.echo(
            f"demo loaded: {logins.postings} postings, {logins.calls} funding calls"
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
    from api.core.db import unit_of_work
    from api.core.errors import DomainError
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
    from api.cli.processes import api_command, api_env

    settings = _settings()
    # Made before any API process starts: several must not each create a different one.
    settings.resolved_secret_key()
    command = api_command(settings)
    os.execve(command[0], command, api_env(settings, os.environ))


@main.command()
@click.option("--processes", type=int, default=None)
@click.option("--threads", type=int, default=None)
def worker(processes: int | None, threads: int | None) -> None:
    """Run Dramatiq worker processes for all queues."""
    from api.cli.processes import worker_command

    command = worker_command(_settings(), processes=processes, threads=threads)
    os.execv(command[0], command)


@main.command("worker-health")
def worker_health() -> None:
    """Exit 0 when a worker process on this host has refreshed its heartbeat (a health check)."""
    import socket

    import redis

    from api.cli.processes import alive_workers
    from api.core.redis_server import redis_url

    client = redis.Redis.from_url(redis_url(get_settings()), socket_timeout=3)
    try:
        alive = alive_workers(client, hostname=socket.gethostname())
    except redis.RedisError as exc:
        raise click.ClickException(f"Redis unreachable: {exc}") from exc
    finally:
        client.close()
    if not alive:
        raise click.ClickException(f"no live worker heartbeat on {socket.gethostname()}")
    click.echo(f"{len(alive)} worker process(es) alive")


@main.command()
@click.option("--reembed", is_flag=True, help="Embed again every open posting, not only stale ones.")
def reindex(reembed: bool) -> None:
    """Rebuild the index from the database: refresh stale vectors, then load and check them."""
    from api.matching.indexing import rebuild_index

    settings = _settings()
    report = rebuild_index(settings, _sessions(settings), reembed=reembed)
    click.echo(
        f"reindexed: {report.embedded} postings embedded, {report.deactivated} closed removed, "
        f"index holds {report.needs} needs and {report.offers} offers"
    )
    click.echo(report.memory_summary())


@main.command()
def reconcile() -> None:
    """One reconciler pass: re-enqueue stuck postings and deliveries, and the digests due, now."""
    from datetime import timedelta

    from api.calls.reminders import calls_pass
    from api.core.db import unit_of_work
    from api.core.jobs import JobBuffer
    from api.models.base import utcnow
    from api.notifications.delivery import sweep
    from api.notifications.digest import enqueue_due_digests
    from api.pipeline.service import ReconcilePolicy
    from api.pipeline.service import reconcile as run_reconcile

    settings = _settings()
    jobs = JobBuffer()
    policy = ReconcilePolicy(
        timedelta(seconds=settings.reconcile_stale_seconds), settings.pipeline_max_attempts
    )
    with unit_of_work(_sessions(settings)) as session:
        report = run_reconcile(session, jobs=jobs, policy=policy)
        deliveries = sweep(
            session,
            jobs=jobs,
            now=utcnow(),
            stale_after=policy.stale_after,
            max_attempts=settings.delivery_max_attempts,
        )
        digests = enqueue_due_digests(session, jobs=jobs, now=utcnow())
        calls = calls_pass(session, jobs=jobs, settings=settings, now=utcnow())
    _flush_jobs(settings, jobs)
    click.echo(f"reconciled: {report}; deliveries: {deliveries}; digests due: {digests}; calls: {calls}")


@main.group()
def calls() -> None:
    """Funding calls."""


@calls.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "publisher", default=None, help="The facilitator or admin publishing them (e-mail).")
def calls_import(file: Path, publisher: str | None) -> None:
    """Import calls from a CSV or JSON file (all or nothing; an external_id updates its call)."""
    from sqlalchemy import select

    from api.calls.importer import ImportFailed, import_calls, read_rows
    from api.core.db import unit_of_work
    from api.core.jobs import JobBuffer
    from api.models import User
    from api.models.enums import Role

    settings = _settings()
    jobs = JobBuffer()
    try:
        with unit_of_work(_sessions(settings)) as session:
            query = select(User).order_by(User.id)
            author = session.scalar(
                query.where(User.email == publisher.lower())
                if publisher
                else query.where(User.role == Role.admin.value)
            )
            if author is None:
                raise click.ClickException(
                    f"no user {publisher}" if publisher else "no admin account: pass --as FACILITATOR_EMAIL"
                )
            report = import_calls(session, jobs=jobs, author=author, rows=read_rows(file))
    except ImportFailed as exc:
        raise click.ClickException("nothing imported:\n" + "\n".join(exc.problems)) from exc
    unsent = _flush_jobs(settings, jobs)
    click.echo(
        f"calls imported: {len(report.created)} new, {len(report.updated)} updated"
        + (f" ({unsent} to be enqueued by the reconciler)" if unsent else "")
    )


@main.group()
def jobs() -> None:
    """Background jobs that exhausted their retries (dead letters)."""


def _redis_and_broker(settings):  # type: ignore[no-untyped-def]
    import redis

    from api.core.jobs import enqueue_broker
    from api.core.redis_server import redis_url

    url = redis_url(settings)
    return redis.Redis.from_url(url), enqueue_broker(url)


@jobs.command("failed")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list instead of a table.")
def jobs_failed(as_json: bool) -> None:
    """List the dead letters: actor, arguments, subject, last error, when."""
    import json

    from api.operations.deadletters import list_dead_letters

    client, broker = _redis_and_broker(_settings())
    try:
        letters = list_dead_letters(client)
    finally:
        client.close()
        broker.close()
    if as_json:
        click.echo(json.dumps([letter.as_json() for letter in letters], indent=2, default=str))
        return
    if not letters:
        click.echo("no dead letters")
        return
    for letter in letters:
        click.echo(
            f"{letter.id}  {letter.dead_at:%Y-%m-%d %H:%M:%S}Z  {letter.actor}{tuple(letter.args)!r}  "
            f"[{letter.subject}]  after {letter.retries} attempt(s): {letter.error}"
        )
    click.echo(f"{len(letters)} dead letter(s); `clustermatch jobs retry ID|--all` sends them again")


@jobs.command("retry")
@click.argument("ids", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Send every dead letter again.")
def jobs_retry(ids: tuple[str, ...], retry_all: bool) -> None:
    """Send dead letters again (fresh messages, same actor and arguments)."""
    from api.operations.deadletters import retry_dead_letters

    if bool(ids) == retry_all:
        raise click.UsageError("give one or more dead-letter ids, or --all")
    client, broker = _redis_and_broker(_settings())
    try:
        sent = retry_dead_letters(client, broker, None if retry_all else ids)
    finally:
        client.close()
        broker.close()
    for letter in sent:
        click.echo(f"sent again: {letter.id} {letter.actor}{tuple(letter.args)!r}")
    missing = set(ids) - {letter.id for letter in sent}
    if missing:
        raise click.ClickException(f"no dead letter with id {', '.join(sorted(missing))}")
    click.echo(f"{len(sent)} dead letter(s) sent again")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (status, findings, facts).")
def doctor(as_json: bool) -> None:
    """Check the platform: database, Redis, model, index, pipeline, deliveries, queues, dead letters.

    Exits 1 when a check fails (usable as a health check), 0 otherwise (warnings included).
    """
    import json

    import redis

    from api.core.db import make_engine
    from api.core.redis_server import redis_url
    from api.operations.doctor import as_json as findings_json
    from api.operations.doctor import diagnose, gather_facts, thresholds_for, worst

    settings = _settings()
    engine = make_engine(settings.resolved_database_url)
    client = redis.Redis.from_url(redis_url(settings), socket_timeout=5, socket_connect_timeout=5)
    try:
        facts = gather_facts(settings, engine, client)
    finally:
        client.close()
        engine.dispose()
    findings = diagnose(facts, thresholds_for(settings))
    status = worst(findings)
    if as_json:
        click.echo(json.dumps(findings_json(findings, facts), indent=2, default=str))
    else:
        for finding in findings:
            click.echo(f"{finding.level.upper():4}  {finding.check:22} {finding.detail}")
        click.echo(f"doctor: {status}")
    if status == "fail":
        raise SystemExit(1)


@main.command("eval")
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option(
    "--perturb",
    "seed",
    type=int,
    default=None,
    help="Evaluate a copy written as hurried members write (api/evaluation/perturb.py), made with this "
    "seed; the copy is saved as <data dir>/eval/<name>.perturbed-<seed>.json.",
)
@click.option(
    "--calls",
    "calls_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Funding calls graded over the data set's postings (default: the data set's own 'calls', "
    "else the bundled calls when they were written over this set).",
)
def eval_command(dataset: Path, as_json: bool, seed: int | None, calls_file: Path | None) -> None:
    """Measure matching quality on a labelled data set, with the dense and BM25 baselines."""
    import json

    from api.core.encoders import pivot_encoder
    from api.evaluation.call_set import calls_for
    from api.evaluation.dataset import load_eval_set
    from api.evaluation.harness import evaluate
    from api.evaluation.report import format_report
    from api.matching.service import MatchPolicy
    from embeddings.encoder import second_encoder

    settings = _settings()
    _quiet_pipeline_logs()
    eval_set = _load_or_fail(load_eval_set, dataset)
    if seed is not None:
        from api.evaluation.perturb import perturb, to_json

        eval_set = perturb(eval_set, seed)
        # Under the data dir, never beside the data set: that folder may be shared or read-only.
        copy = settings.data_dir / "eval" / f"{dataset.stem}.perturbed-{seed}.json"
        try:
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(json.dumps(to_json(eval_set), ensure_ascii=False, indent=1) + "\n")
            click.echo(f"perturbed copy: {copy}", err=True)
        except OSError as exc:  # a read-only data directory still gets its figures
            click.echo(f"could not write the perturbed copy ({exc}); evaluating it in memory", err=True)
    calls = _load_or_fail(lambda path: calls_for(path, eval_set, calls_file), dataset)
    result = evaluate(
        eval_set,
        pivot_encoder(settings),
        MatchPolicy.from_settings(settings),
        second_encoder(settings.second_encoder),
        calls=calls,
    )
    click.echo(json.dumps(result, indent=2) if as_json else format_report(result))


@main.command("calibrate-calls")
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--calls", "calls_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def calibrate_calls_command(dataset: Path, calls_file: Path | None, out: Path | None) -> None:
    """Fit the call relevance score and its threshold on graded calls (default out: the bundled file)."""
    from api.calls.relevance import DEFAULT_CALL_CALIBRATION
    from api.core.encoders import pivot_encoder
    from api.evaluation.call_eval import fit_call_calibration
    from api.evaluation.call_set import calls_for
    from api.evaluation.dataset import load_eval_set
    from api.evaluation.harness import loaded
    from embeddings.encoder import second_encoder

    settings = _settings()
    _quiet_pipeline_logs()
    eval_set = _load_or_fail(load_eval_set, dataset)
    calls = _load_or_fail(lambda path: calls_for(path, eval_set, calls_file), dataset)
    if calls is None:
        raise click.ClickException(f"{dataset}: no funding calls to fit on (give --calls FILE)")
    encoder, second = pivot_encoder(settings), second_encoder(settings.second_encoder)
    with loaded(eval_set, encoder, second) as data:
        calibration, report = fit_call_calibration(data, calls, encoder, second)
    target = out or DEFAULT_CALL_CALIBRATION
    calibration.save(target)
    click.echo(f"fitted on {report['pairs']} call/posting pairs ({report['positives']} relevant) -> {target}")
    click.echo(f"weights {calibration.weights}, bias {calibration.bias}")
    click.echo(f"call->posting nDCG@10 with each call held out of the fit: {report['held_out_ndcg@10']:.3f}")
    click.echo(f"telling threshold {calibration.threshold}; on this set: {report['telling']}")


@main.command("eval-sts")
@click.argument("sts_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def eval_sts_command(sts_file: Path) -> None:
    """Each configured encoder's STS score (cosine Spearman x 100), on the raw sentences and on
    what the matcher embeds (the English pivot for the first, the raw text for the second)."""
    from api.core.encoders import pivot_encoder
    from api.evaluation.sts import load_sts, sts_report
    from embeddings.encoder import second_encoder

    settings = _settings()
    pairs = _load_or_fail(load_sts, sts_file)
    encoder, second = pivot_encoder(settings), second_encoder(settings.second_encoder)
    click.echo(f"{sts_file.name}: {len(pairs)} pairs, Spearman x 100")
    report = sts_report(encoder, second, pairs)
    for name, score in report.items():
        click.echo(f"  {name:60} {score:6.2f}")


@main.command()
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Default: the configured calibration file.",
)
def calibrate(dataset: Path, out: Path | None) -> None:
    """Fit the score model and choose the delivery rule on a labelled data set."""
    from api.core.encoders import pivot_encoder
    from api.evaluation.calibrate import calibrate as fit
    from api.evaluation.dataset import load_eval_set
    from embeddings.encoder import second_encoder

    settings = _settings()
    _quiet_pipeline_logs()
    eval_set = _load_or_fail(load_eval_set, dataset)
    calibration, report = fit(
        eval_set,
        pivot_encoder(settings),
        second_encoder(settings.second_encoder),
        candidates=settings.match_candidates,
    )
    target = out or settings.match_calibration
    calibration.save(target)
    click.echo(f"fitted on {report['pairs']} pairs ({report['positives']} relevant) -> {target}")
    click.echo(f"weights {calibration.weights}, bias {calibration.bias}")
    click.echo(f"need->offer nDCG@10 with each S3 area held out of the fit: {report['held_out_ndcg@10']:.3f}")
    click.echo(
        f"delivery rule: threshold {calibration.threshold}, top {calibration.top_k}, margin {calibration.margin}; "
        f"on this set: {report['delivery']}"
    )


def _quiet_pipeline_logs() -> None:
    """An evaluation runs the pipeline over a whole data set: its per-posting logs would drown the report."""
    import logging

    for name in ("api", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _load_or_fail(loader, path: Path):  # type: ignore[no-untyped-def]
    try:
        return loader(path)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


DEFAULT_PARALLEL_DATA = "../shared/data/stsb-multi-mt"


@main.command("train-lexicon")
@click.option(
    "--data",
    "data_dir",
    default=DEFAULT_PARALLEL_DATA,
    show_default=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder with the row-aligned stsb-{it,en}-{train,dev}.csv files.",
)
@click.option("--out", default=str(DEFAULT_LEXICON), show_default=True, type=click.Path(path_type=Path))
def train_lexicon_command(data_dir: Path, out: Path) -> None:
    """Learn the Italian-to-English word table from parallel sentences (IBM Model 1)."""
    from embeddings.encoder import resolve_model_location
    from embeddings.lexicon_training import read_parallel_sts, train_lexicon, write_lexicon
    from embeddings.text import ENGLISH_STOP_WORDS

    settings = _settings()
    vocabulary = Path(resolve_model_location(settings.embedding_model)) / "vocab.txt"
    english = vocabulary.read_text(encoding="utf-8").split() if vocabulary.exists() else []
    pairs = read_parallel_sts(data_dir)
    lexicon = train_lexicon(pairs, english_vocabulary=english, english_stop_words=ENGLISH_STOP_WORDS)
    write_lexicon(lexicon, out)
    click.echo(
        f"lexicon: {len(lexicon['words'])} words and {len(lexicon['stems'])} stems "
        f"from {lexicon['pairs']} sentence pairs -> {out}"
    )


@main.command()
@click.option("--demo/--no-demo", default=True, help="Load the demo data on start.")
def run(demo: bool) -> None:
    """Run everything locally: migrate, embedded Redis, workers, API (Ctrl-C stops all).

    Each child is supervised: one that dies is restarted with backoff, and the others keep
    running; only Ctrl-C or SIGTERM stops everything.
    """
    from api.cli.processes import (
        STOP_GRACE_SECONDS,
        RestartPolicy,
        Supervisor,
        api_command,
        api_env,
        stop_all,
        worker_command,
    )
    from api.core.redis_server import redis_url, start_embedded_redis

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    supervisor = None
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
        # One dramatiq process per supervised child: dramatiq's main exits when any of its
        # forked processes dies, so a death then costs one process, not all of them.
        workers = [
            (f"worker-{n + 1}", worker_command(settings, processes=1))
            for n in range(settings.worker_processes)
        ]
        # Made before the API processes start: several must not each create a different one.
        settings.resolved_secret_key()
        supervisor = Supervisor(
            [*workers, ("api", api_command(settings), api_env(settings, env))],
            env,
            policy=lambda: RestartPolicy.from_settings(settings),
        )
        supervisor.start()
        click.echo(
            f"\nclustermatch is starting on http://{settings.host}:{settings.port}  (Ctrl-C stops it)\n"
        )
        supervisor.run_until_stopped()
    except KeyboardInterrupt:
        click.echo("\nstopping…")
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        timeout = settings.worker_shutdown_timeout_ms / 1000 + STOP_GRACE_SECONDS
        if supervisor is not None:
            supervisor.stop(timeout)
        if redis_process is not None:
            stop_all([redis_process])


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
