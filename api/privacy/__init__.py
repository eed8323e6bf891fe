"""Privacy by design: an organisation's data export and its erasure."""
