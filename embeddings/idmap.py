"""Database ids to rows or slots of an in-memory structure, for the int ids of a table."""

from __future__ import annotations

import numpy as np

# Ids below this are mapped through a numpy array indexed by id (4 bytes an id up to the largest,
# where a dict entry costs ~100): database ids are dense. Larger ids go to a dict.
DENSE_IDS = 1 << 26


class IdMap:
    """id -> row (or slot), for the int ids of a database table."""

    __slots__ = ("dense", "extra")

    def __init__(self) -> None:
        self.dense = np.full(1024, -1, dtype=np.int32)
        self.extra: dict[int, int] = {}

    def get(self, i: int) -> int | None:
        if 0 <= i < len(self.dense):
            v = int(self.dense[i])
            return v if v >= 0 else None
        return self.extra.get(i)

    def __contains__(self, i: object) -> bool:
        return isinstance(i, int) and self.get(i) is not None

    def set_many(self, ids: np.ndarray, rows: np.ndarray) -> None:
        small = (ids >= 0) & (ids < DENSE_IDS)
        if small.any():
            top = int(ids[small].max())
            if top >= len(self.dense):
                grown = np.full(max(top + 1, 2 * len(self.dense)), -1, dtype=np.int32)
                grown[: len(self.dense)] = self.dense
                self.dense = grown
            self.dense[ids[small]] = rows[small]
        for i, r in zip(ids[~small].tolist(), rows[~small].tolist(), strict=True):
            self.extra[i] = r

    def pop(self, i: int, default: None = None) -> int | None:
        v = self.get(i)
        if v is not None:
            if 0 <= i < len(self.dense):
                self.dense[i] = -1
            else:
                del self.extra[i]
        return v

    def lookup(self, ids: list[int], *, missing: int | None = None) -> np.ndarray:
        """The rows of these ids; an absent id raises KeyError, or reads `missing` when given."""
        arr = np.asarray(ids, dtype=np.int64)
        if not self.extra and (arr.size == 0 or (arr.min() >= 0 and arr.max() < len(self.dense))):
            rows = self.dense[arr].astype(np.int64)
            if missing is None and (rows < 0).any():
                raise KeyError(int(arr[np.flatnonzero(rows < 0)[0]]))
            return rows if missing in (None, -1) else np.where(rows < 0, missing, rows)
        out = np.empty(len(ids), dtype=np.int64)
        for n, i in enumerate(ids):
            v = self.get(int(i))
            if v is None:
                if missing is None:
                    raise KeyError(i)
                v = missing
            out[n] = v
        return out

    def nbytes(self) -> int:
        return self.dense.nbytes + 100 * len(self.extra)
