"""Micro-batching: texts submitted by concurrent threads are encoded together.

Worker threads each handle one message; when messages pile up, the threads' texts meet here
and go through the model as one batch, which is several times faster per text on a CPU.

By default a batch is whatever is queued when the model is free (`max_wait_ms=0`): a lone
posting never waits for company, and under a burst the texts that arrive while a batch runs
make up the next one.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Protocol

import numpy as np


class TextEncoder(Protocol):
    def encode(self, texts: list[str], *, batch_size: int = ...) -> np.ndarray: ...


class BatchingEncoder:
    def __init__(self, encoder: TextEncoder, *, max_batch: int = 32, max_wait_ms: float = 0) -> None:
        self._encoder = encoder
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000
        self._pending: queue.Queue[tuple[list[str], Future[np.ndarray]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="embedding-batcher", daemon=True)
        self._thread.start()

    def encode(self, texts: list[str], timeout: float | None = 120) -> np.ndarray:
        return self.submit(texts).result(timeout=timeout)

    def submit(self, texts: list[str]) -> Future[np.ndarray]:
        """Queue the texts without waiting: a caller with two encoders runs both at once."""
        future: Future[np.ndarray] = Future()
        self._pending.put((texts, future))
        return future

    def _run(self) -> None:
        while True:
            batch = [self._pending.get()]
            size = len(batch[0][0])
            while size < self._max_batch:
                try:
                    item = self._pending.get(block=self._max_wait > 0, timeout=self._max_wait or None)
                except queue.Empty:
                    break
                batch.append(item)
                size += len(item[0])
            texts = [text for item_texts, _ in batch for text in item_texts]
            try:
                vectors = self._encoder.encode(texts, batch_size=self._max_batch)
            except Exception as exc:  # every waiting caller gets the error, none hangs
                for _, future in batch:
                    future.set_exception(exc)
                continue
            start = 0
            for item_texts, future in batch:
                future.set_result(vectors[start : start + len(item_texts)])
                start += len(item_texts)
