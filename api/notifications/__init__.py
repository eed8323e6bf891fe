"""Notifications: stored per user, and delivered on each channel (live stream, e-mail) from an
outbox of delivery rows, with retries, digests and the e-mail rules."""
