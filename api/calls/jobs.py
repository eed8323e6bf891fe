"""The calls' background jobs, on the pipeline's existing queues (no new queue to run or watch)."""

from __future__ import annotations

from api.core.jobs import JobSpec

EMBED_CALL = JobSpec("calls.embed", "embedding")
MATCH_CALL = JobSpec("calls.match", "matching")
# A need or offer just matched: score it against the open calls.
MATCH_POSTING_TO_CALLS = JobSpec("calls.match_posting", "matching")
# Consortia go to a facilitator's review, not to a member in real time: a few seconds' wait lets
# the fits of a burst (a bulk import, a call matched with every posting) be proposed from at once.
PROPOSE_CONSORTIA = JobSpec("calls.propose_consortia", "matching", delay_ms=2000)
