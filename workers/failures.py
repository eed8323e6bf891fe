"""Recording an actor's failure on the row it worked on, then letting Dramatiq retry."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from workers.resources import current

log = logging.getLogger(__name__)


@contextmanager
def failures_recorded(
    what: str, row_id: int, step: str, record: Callable[[Session, str], None]
) -> Iterator[None]:
    """On an exception: log it with the row's id, keep `step: error` on the row through `record`
    (the reconciler decides when to give up), then re-raise. A failure to record is logged too."""
    try:
        yield
    except Exception as exc:
        log.exception("%s failed for %s %s", step, what, row_id)
        try:
            with current().unit_of_work() as uow:
                record(uow.session, f"{step}: {exc!r}")
        except Exception:
            log.exception("could not record the failure of %s %s", what, row_id)
        raise
