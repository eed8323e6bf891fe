"""The e-mail rules as pure functions: send now, defer to a digest, or skip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.mail.compose import header_safe
from api.notifications.rules import DEFER, SEND, SKIP, Mailbox, digest_fate, email_fate

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


def box(frequency: str = "instant", sent_today: int = 0, cap: int = 20, **kwargs) -> Mailbox:  # type: ignore[no-untyped-def]
    return Mailbox(
        frequency=frequency,
        last_digest_at=kwargs.get("last_digest_at"),
        sent_today=sent_today,
        oldest_today=kwargs.get("oldest_today"),
        cap=cap,
    )


def fate(mailbox: Mailbox, kind: str = "suggestion.new", already_mailed: bool = False):  # type: ignore[no-untyped-def]
    return email_fate(
        kind=kind, mailbox=mailbox, already_mailed=already_mailed, review_window=WINDOW, now=NOW
    )


def test_instant_members_are_mailed_now_unless_off_or_already_mailed():
    assert fate(box()).action == SEND
    assert fate(box("off")).action == SKIP
    assert fate(box(), already_mailed=True).action == SKIP


def test_past_the_cap_a_mail_waits_until_a_slot_frees_instead_of_being_dropped():
    oldest = NOW - timedelta(hours=3)
    capped = fate(box(sent_today=20, oldest_today=oldest))
    assert (capped.action, capped.due_at) == (DEFER, oldest + timedelta(days=1))
    assert "cap" in capped.reason


def test_reviews_wait_for_their_window_and_daily_users_for_their_digest():
    review = fate(box(), kind="suggestion.review")
    assert (review.action, review.due_at) == (DEFER, NOW + WINDOW)
    first_digest = fate(box("daily"))
    assert (first_digest.action, first_digest.due_at) == (DEFER, NOW)
    later = fate(box("daily", last_digest_at=NOW - timedelta(hours=2)))
    assert later.due_at == NOW + timedelta(hours=22)


def test_a_digest_goes_out_once_something_is_due_and_at_most_daily_for_daily_users():
    assert digest_fate(mailbox=box(), due=[], now=NOW).action == DEFER
    not_yet = digest_fate(mailbox=box(), due=[NOW + WINDOW, NOW + 2 * WINDOW], now=NOW)
    assert (not_yet.action, not_yet.due_at) == (DEFER, NOW + WINDOW)
    assert digest_fate(mailbox=box(), due=[NOW - WINDOW, NOW + WINDOW], now=NOW).action == SEND
    recent = box("daily", last_digest_at=NOW - timedelta(hours=1))
    assert digest_fate(mailbox=recent, due=[NOW], now=NOW).due_at == NOW + timedelta(hours=23)
    capped = box(sent_today=3, cap=3, oldest_today=NOW - timedelta(hours=1))
    assert digest_fate(mailbox=capped, due=[NOW], now=NOW).action == DEFER
    assert digest_fate(mailbox=box("off"), due=[NOW], now=NOW).action == SKIP


def test_header_values_are_one_clean_line():
    assert header_safe("Visione\r\nBcc: x@evil.it\x00\tok") == "Visione Bcc: x@evil.it ok"
    assert header_safe("a\u2028b\x7fc") == "a b c"
    assert len(header_safe("x" * 500)) == 200
