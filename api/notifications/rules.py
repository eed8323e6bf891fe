"""When a notification is e-mailed: pure decisions on data, no I/O.

An e-mail delivery is sent now, deferred to a digest (one mail carrying several notifications)
or skipped. Deferring never drops anything: a deferred delivery waits until its digest is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DAY = timedelta(days=1)
REVIEW = "suggestion.review"

SEND, DEFER, SKIP = "send", "defer", "skip"


@dataclass(frozen=True)
class Fate:
    action: str  # SEND, DEFER or SKIP
    reason: str = ""
    due_at: datetime | None = None  # DEFER: when the digest carrying it may go out


@dataclass(frozen=True)
class Mailbox:
    """What the rules need to know about the recipient, read by the caller."""

    frequency: str  # "instant", "daily" or "off"
    last_digest_at: datetime | None
    sent_today: int  # e-mails in the last 24 hours
    oldest_today: datetime | None  # the oldest of those: a slot frees a day after it
    cap: int

    def slot_frees_at(self, now: datetime) -> datetime:
        return self.oldest_today + DAY if self.oldest_today else now

    def next_daily_digest(self, now: datetime) -> datetime:
        return self.last_digest_at + DAY if self.last_digest_at else now


def email_fate(
    *, kind: str, mailbox: Mailbox, already_mailed: bool, review_window: timedelta, now: datetime
) -> Fate:
    """One notification's e-mail. `already_mailed`: the same event of the same suggestion was
    mailed (or is waiting in a digest) through another notification, e.g. an earlier revision."""
    if mailbox.frequency == "off":
        return Fate(SKIP, "the recipient turned e-mails off")
    if already_mailed:
        return Fate(SKIP, "the same event was mailed before")
    if mailbox.frequency == "daily":
        return Fate(DEFER, "daily digest", mailbox.next_daily_digest(now))
    if kind == REVIEW:
        # Facilitators get one mail listing what waits, not one per suggestion.
        return Fate(DEFER, "grouped review mail", now + review_window)
    if mailbox.sent_today >= mailbox.cap:
        return Fate(DEFER, f"daily cap of {mailbox.cap} e-mails reached", mailbox.slot_frees_at(now))
    return Fate(SEND)


@dataclass(frozen=True)
class DigestFate:
    action: str  # SEND, SKIP (the recipient turned e-mails off) or DEFER (not yet: retry at due_at)
    due_at: datetime | None = None


def digest_fate(*, mailbox: Mailbox, due: list[datetime], now: datetime) -> DigestFate:
    """Whether the deferred deliveries of one user (their due times) go out now, as one mail."""
    if not due:
        return DigestFate(DEFER, None)
    if mailbox.frequency == "off":
        return DigestFate(SKIP)
    first = min(due)
    if first > now:
        return DigestFate(DEFER, first)
    if mailbox.frequency == "daily":
        # One digest a day, whatever the due times written when each was deferred say.
        next_digest = mailbox.next_daily_digest(now)
        return DigestFate(SEND) if next_digest <= now else DigestFate(DEFER, next_digest)
    if mailbox.sent_today >= mailbox.cap:
        return DigestFate(DEFER, mailbox.slot_frees_at(now))
    return DigestFate(SEND)
