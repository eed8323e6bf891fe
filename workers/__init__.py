"""Dramatiq workers: broker setup, per-process resources and thin actors over api services."""
