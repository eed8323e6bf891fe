"""Notifications: stored per user, pushed live over Redis pub/sub and server-sent events."""
