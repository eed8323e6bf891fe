"""The worker tests' fixtures (a real in-process worker on the real broker, the real model)."""

from tests.workers.conftest import broker, encoder, pipeline  # noqa: F401
