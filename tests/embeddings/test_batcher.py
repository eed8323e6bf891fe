import threading

import numpy as np
import pytest

from embeddings.batcher import BatchingEncoder


class RecordingEncoder:
    """Encodes a text as [len(text)] and records the batch sizes it was called with."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[int] = []
        self.fail = fail
        self.release = threading.Event()
        self.entered = threading.Event()

    def encode(self, texts, *, batch_size=32):  # type: ignore[no-untyped-def]
        self.entered.set()
        self.release.wait(5)
        self.batches.append(len(texts))
        if self.fail:
            raise RuntimeError("model broke")
        return np.array([[float(len(t))] for t in texts], dtype=np.float32)


def test_concurrent_callers_share_a_batch_and_get_their_own_rows():
    inner = RecordingEncoder()
    batcher = BatchingEncoder(inner, max_batch=32, max_wait_ms=50)
    results: dict[int, float] = {}

    def call(n: int) -> None:
        results[n] = float(batcher.encode(["x" * n])[0][0])

    threads = [threading.Thread(target=call, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    inner.release.set()
    for t in threads:
        t.join(10)
    assert results == {n: float(n) for n in range(1, 9)}
    assert max(inner.batches) > 1  # messages that piled up went through the model together


def test_by_default_a_lone_text_goes_at_once_and_what_queues_meanwhile_goes_next_together():
    inner = RecordingEncoder()
    batcher = BatchingEncoder(inner, max_batch=32)
    first = batcher.submit(["a"])
    assert inner.entered.wait(5)  # the model took the lone text without waiting for more
    later = [batcher.submit(["b" * n]) for n in range(1, 8)]
    inner.release.set()
    assert first.result(5)[0][0] == 1.0
    assert [f.result(5)[0][0] for f in later] == [float(n) for n in range(1, 8)]
    assert inner.batches == [1, 7]


def test_an_encoder_error_reaches_the_caller():
    inner = RecordingEncoder(fail=True)
    inner.release.set()
    batcher = BatchingEncoder(inner, max_batch=4, max_wait_ms=1)
    with pytest.raises(RuntimeError, match="model broke"):
        batcher.encode(["a"])
