"""A unit of work: one transaction and the jobs it implies, sent only after the commit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import dramatiq
from sqlalchemy.orm import Session, sessionmaker

from api.core.db import unit_of_work
from api.core.jobs import JobBuffer


@dataclass
class UnitOfWork:
    session: Session
    jobs: JobBuffer = field(default_factory=JobBuffer)


@contextmanager
def transaction(sessions: sessionmaker[Session], broker: dramatiq.Broker) -> Iterator[UnitOfWork]:
    """Commit at the end, then send the jobs; on error roll back and drop them."""
    jobs = JobBuffer()
    try:
        with unit_of_work(sessions) as session:
            yield UnitOfWork(session, jobs)
    except BaseException:
        jobs.clear()
        raise
    jobs.flush(broker)
