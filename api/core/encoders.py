"""The pivot encoder a process uses, built from the settings (backend, threads, export cache)."""

from __future__ import annotations

from pathlib import Path

from api.core.settings import Settings
from embeddings.encoder import Encoder
from embeddings.onnx_encoder import OnnxEncoder, build_encoder, cached_export, user_cache_dir


def model_cache_dir(settings: Settings) -> Path:
    """Where the ONNX exports of the models are cached (derived files: safe to delete).

    A copy also goes to the per-user cache (`~/.cache/clustermatch/models`, filled by `make install`),
    which every other data dir on the machine (tests, a second install) reuses instead of exporting.
    """
    return settings.data_dir / "models"


def pivot_encoder(settings: Settings, *, backend: str | None = None) -> Encoder | OnnxEncoder:
    """The configured encoder; `backend` overrides `settings.encoder_backend` (the bench does)."""
    return build_encoder(
        settings.embedding_model,
        backend=backend or settings.encoder_backend,  # type: ignore[arg-type]
        threads=settings.encoder_threads or None,
        cache_dir=model_cache_dir(settings),
        shared_cache_dir=user_cache_dir(),
        max_batch=settings.embedding_batch_size,
    )


def describe_backend(settings: Settings) -> str:
    """What `pivot_encoder` will run, without loading it (for `clustermatch doctor`)."""
    if settings.encoder_backend == "torch":
        return "torch (CLUSTERMATCH_ENCODER_BACKEND=torch)"
    try:
        export = cached_export(settings.embedding_model, [model_cache_dir(settings), user_cache_dir()])
    except Exception as exc:  # an unreadable model: the model check reports it
        return f"unknown ({exc})"
    if export is None:
        return (
            f"{settings.encoder_backend}: no ONNX export yet (the first process to load the model makes one)"
        )
    return f"onnx ({export}, checked against torch when loaded)"
