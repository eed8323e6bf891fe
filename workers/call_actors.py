"""The funding calls' actors: embed a call, match it with the postings (and a posting with the
open calls), propose consortia. Thin wrappers over `api.calls`; each one idempotent and keyed
by (id, revision) like `workers.actors`. Deadline reminders run in the reconciler's pass."""

from __future__ import annotations

import logging

import dramatiq

from api.calls.jobs import EMBED_CALL, MATCH_CALL, MATCH_POSTING_TO_CALLS, PROPOSE_CONSORTIA
from api.calls.matching import call_embedding_task, match_call, match_posting_to_calls, store_call_embedding
from api.calls.proposals import propose_consortia, replica_answers
from api.calls.relevance import default_call_calibration
from api.models import Call
from workers.broker import actor_policy
from workers.failures import failures_recorded
from workers.resources import current

log = logging.getLogger(__name__)


def _record_call_failure(call_id: int):  # type: ignore[no-untyped-def]
    def record(session, error: str) -> None:  # type: ignore[no-untyped-def]
        call = session.get(Call, call_id)
        if call is not None:
            call.pipeline_error = error[:2000]

    return record


def call_failure_recorded(call_id: int, step: str):  # type: ignore[no-untyped-def]
    return failures_recorded("call", call_id, step, _record_call_failure(call_id))


@dramatiq.actor(
    actor_name=EMBED_CALL.actor_name, queue_name=EMBED_CALL.queue_name, **actor_policy(EMBED_CALL.actor_name)
)
def embed_call(call_id: int, revision: int) -> None:
    res = current()
    with call_failure_recorded(call_id, "embedding"):
        with res.unit_of_work() as uow:
            task = call_embedding_task(
                uow.session, jobs=uow.jobs, call_id=call_id, revision=revision, model=res.model
            )
        if task is None:
            return
        # The encoder runs outside any transaction, as for postings.
        encoded, multi = res.encode(task.representation)
        with res.unit_of_work() as uow:
            store_call_embedding(
                uow.session,
                jobs=uow.jobs,
                task=task,
                encoded=encoded,
                model=res.model,
                multi_vector=multi,
                multi_model=res.multi_model,
            )


@dramatiq.actor(
    actor_name=MATCH_CALL.actor_name, queue_name=MATCH_CALL.queue_name, **actor_policy(MATCH_CALL.actor_name)
)
def match_call_with_postings(call_id: int, revision: int) -> None:
    res = current()
    with call_failure_recorded(call_id, "matching"), res.unit_of_work() as uow:
        match_call(
            uow.session,
            jobs=uow.jobs,
            replica=res.current_replica(),
            calibration=default_call_calibration(),
            call_id=call_id,
            revision=revision,
            max_fits=res.settings.call_max_fits,
        )


@dramatiq.actor(
    actor_name=MATCH_POSTING_TO_CALLS.actor_name,
    queue_name=MATCH_POSTING_TO_CALLS.queue_name,
    **actor_policy(MATCH_POSTING_TO_CALLS.actor_name),
)
def match_posting_with_calls(posting_id: int, revision: int) -> None:
    res = current()
    with res.unit_of_work() as uow:
        match_posting_to_calls(
            uow.session,
            jobs=uow.jobs,
            replica=res.current_replica(),
            calibration=default_call_calibration(),
            posting_id=posting_id,
            revision=revision,
        )


@dramatiq.actor(
    actor_name=PROPOSE_CONSORTIA.actor_name,
    queue_name=PROPOSE_CONSORTIA.queue_name,
    **actor_policy(PROPOSE_CONSORTIA.actor_name),
)
def propose_call_consortia(call_id: int, revision: int) -> None:
    res = current()
    with res.unit_of_work() as uow:
        replica = res.current_replica()
        replica.sync(uow.session)
        propose_consortia(
            uow.session,
            jobs=uow.jobs,
            call_id=call_id,
            revision=revision,
            matcher_answers=replica_answers(replica, res.match_policy.calibration),
        )
