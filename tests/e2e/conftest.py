from collections.abc import Iterator

import pytest

from tests.e2e.stack import Stack
from tests.infra import backends, migrated_database


@pytest.fixture(scope="module", params=backends())
def stack(
    request: pytest.FixtureRequest, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """API + two worker processes (two threads each), on a fresh database of each backend."""
    workdir = tmp_path_factory.mktemp(f"e2e-{request.param}")
    with migrated_database(request.param, workdir) as database_url:
        stack = Stack(
            database_url=database_url, redis_url=redis_url, data_dir=workdir, match_max_per_posting=100
        )
        try:
            stack.start_api()
            stack.start_worker(processes=2, threads=2)
            yield stack
        finally:
            stack.stop()
        if request.node.session.testsfailed:
            print(stack.logs())
