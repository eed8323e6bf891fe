"""The audit log: facilitator decisions, role changes, policy changes, exports and deletions."""
