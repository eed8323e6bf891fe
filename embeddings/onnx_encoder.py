"""Pivot encoder on ONNX Runtime: the local sentence-transformers model, exported once, run without torch.

The export is made offline from the model on disk (never a hub download) with `torch.onnx.export`,
on first use, and cached as one file under the cache directory, named after the model and a hash of
its files: `<cache>/<model-slug>-<hash>.onnx`. The file carries in its metadata the torch vectors of a
few fixed texts (`VERIFY_TEXTS`), computed by sentence-transformers when the file was made. Every load
encodes those texts with ONNX Runtime and requires a cosine of at least `VERIFY_MIN_COSINE` with each
stored vector; a file that fails to load or to verify is exported again. If a fresh export does not
verify either, `build_encoder(backend="auto")` logs why and returns the torch `Encoder`.

What runs at encode time mirrors the model's sentence-transformers modules (`modules.json`): the
model's own tokenizer (`tokenizer.json`, truncated at `max_seq_length`, text stripped and lower-cased
when `sentence_bert_config.json` says so), the transformer graph, the pooling of `1_Pooling/config.json`
(mean over the attention mask, CLS or max), and an L2 normalisation. A model with any other module
(a Dense layer, say) is not exported: torch runs it.

Memory: ONNX Runtime's CPU arena keeps the largest buffers it ever allocated (one default session grew
to 4.8 GB after a batch of 128), so the arena is off and a batch is capped at `max_batch` texts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from embeddings.encoder import Encoder, resolve_model_location

log = logging.getLogger(__name__)

Backend = Literal["auto", "torch", "onnx"]

VERIFY_MIN_COSINE = 0.9999
DEFAULT_MAX_BATCH = 32
# Part of the cache key: changing how the graph is exported makes old files stale.
EXPORT_FORMAT = "st-transformer-1"
OPSET = 18
_META_KEY = "clustermatch.reference"
_SUPPORTED_MODULES = {
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
}
_POOLING = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
}
# Short and long (past 256 word pieces), English and Italian, padded, upper case, accents, digits:
# what tokenisation, truncation, padding and pooling must all get right for the vectors to match.
VERIFY_TEXTS = (
    "Automatic visual inspection of surface defects on machined valve bodies.",
    "  Sistema di visione artificiale per rilevare cricche, porosità e graffi sui corpi valvola.  ",
    "LIFE-CYCLE ASSESSMENT (LCA) for packaging: 30% less CO2, ISO 14040/14044.",
    "energy audit",
    " ".join(
        ["Predictive maintenance of hydraulic presses with vibration sensors and machine learning."] * 30
    ),
    "Offriamo prove di fatica su componenti in lega di alluminio; TRL 6, banco da 250 kN.",
)


class OnnxUnavailable(RuntimeError):
    """The ONNX path cannot serve this model (missing package, unsupported modules, failed check)."""


@dataclass(frozen=True)
class ModelLayout:
    """What the model's sentence-transformers modules do, read from its files."""

    location: Path
    max_seq_length: int
    do_lower_case: bool
    pooling: Literal["mean", "cls", "max"]
    dim: int
    normalize: bool


def read_layout(location: str | Path) -> ModelLayout:
    root = Path(location)
    modules_file = root / "modules.json"
    if not modules_file.exists():
        raise OnnxUnavailable(f"{root} has no modules.json: not a sentence-transformers model")
    modules = json.loads(modules_file.read_text())
    types = [m.get("type", "") for m in modules]
    unsupported = [t for t in types if t not in _SUPPORTED_MODULES]
    if unsupported or not types or types[0] != "sentence_transformers.models.Transformer":
        raise OnnxUnavailable(f"modules {types} are not Transformer + Pooling (+ Normalize)")
    config_file = root / "sentence_bert_config.json"
    config = json.loads(config_file.read_text()) if config_file.exists() else {}
    pooling_entry = next(m for m in modules if m["type"].endswith(".Pooling"))
    pooling_config = json.loads((root / pooling_entry["path"] / "config.json").read_text())
    modes = [key for key, on in pooling_config.items() if key.startswith("pooling_mode_") and on]
    if len(modes) != 1 or modes[0] not in _POOLING:
        raise OnnxUnavailable(f"pooling {modes} is not one of {sorted(_POOLING)}")
    return ModelLayout(
        location=root,
        max_seq_length=int(config.get("max_seq_length") or 512),
        do_lower_case=bool(config.get("do_lower_case", False)),
        pooling=_POOLING[modes[0]],  # type: ignore[arg-type]
        dim=int(pooling_config["word_embedding_dimension"]),
        normalize=any(t.endswith(".Normalize") for t in types),
    )


def model_fingerprint(location: str | Path) -> str:
    """A hash of every file of the model (names and bytes) and of the export format."""
    root = Path(location)
    digest = hashlib.sha256(EXPORT_FORMAT.encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def export_path(cache_dir: str | Path, model_name: str, fingerprint: str) -> Path:
    # A path or hub name keeps its last part: "bundled:all-MiniLM-L6-v2" -> "bundled-all-MiniLM-L6-v2".
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", model_name.rstrip("/").rsplit("/", 1)[-1]).strip("-") or "model"
    return Path(cache_dir) / f"{slug}-{fingerprint}.onnx"


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


class OnnxEncoder:
    """Same interface as `Encoder`: L2-normalised float32 vectors, `.dim`, `.model_name`."""

    backend = "onnx"

    def __init__(
        self,
        model_name: str,
        *,
        cache_dir: str | Path,
        shared_cache_dir: str | Path | None = None,
        threads: int | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        try:
            import onnxruntime  # noqa: F401
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise OnnxUnavailable(f"{exc.name} is not installed") from exc
        self.model_name = model_name
        self.threads = threads or os.cpu_count() or 1
        self.max_batch = max(1, max_batch)
        self.layout = read_layout(resolve_model_location(model_name))
        self.dim = self.layout.dim
        self._tokenizer = Tokenizer.from_file(str(self.layout.location / "tokenizer.json"))
        # tokenizer.json may carry its own truncation and fixed-length padding (128 for this model):
        # the model's max_seq_length is what sentence-transformers reads, and padding is done here.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.layout.max_seq_length)
        fingerprint = model_fingerprint(self.layout.location)
        self.path = export_path(cache_dir, model_name, fingerprint)
        self._shared = export_path(shared_cache_dir, model_name, fingerprint) if shared_cache_dir else None
        self.min_cosine = self._load_or_export()

    # ---------- encoding ----------
    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prepared = [text.strip() for text in texts]
        if self.layout.do_lower_case:
            prepared = [text.lower() for text in prepared]
        encodings = self._tokenizer.encode_batch(prepared)
        # Longest first, as sentence-transformers does: batches of similar lengths pad less.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        step = max(1, min(batch_size, self.max_batch))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), step):
            chunk = order[start : start + step]
            out[chunk] = self._run([encodings[i] for i in chunk])
        return out

    def _run(self, encodings: list) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = enc.attention_mask
            types[row, :n] = enc.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        tokens = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        return _pool(tokens, mask, self.layout.pooling)

    # ---------- the cached export ----------
    def _load_or_export(self) -> float:
        """Reuse a file that verifies (the data dir's, else the shared cache's), else export one."""
        with _export_lock(self.path):
            candidates = [self.path] + ([self._shared] if self._shared and self._shared != self.path else [])
            for candidate in candidates:
                if not candidate.exists():
                    continue
                try:
                    cosine = self._open_and_verify(candidate)
                    self.path = candidate
                    return cosine
                except Exception as exc:  # a corrupt, truncated or stale file: drop it
                    log.warning("ONNX export %s unusable (%s): removing it", candidate, exc)
                    with contextlib.suppress(OSError):
                        candidate.unlink()
            export_model(self.model_name, self.layout, self.path)
            try:
                cosine = self._open_and_verify(self.path)
            except Exception:
                self.path.unlink(missing_ok=True)  # never leave a file that does not verify
                raise
            if self._shared and self._shared != self.path:
                _publish_copy(self.path, self._shared)
            return cosine

    def _open_and_verify(self, path: Path) -> float:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.enable_cpu_mem_arena = False  # see the module doc: the arena only grows
        options.enable_mem_pattern = False  # shapes change with every batch
        # Idle intra-op threads sleep instead of spinning: on a busy machine (a worker's other
        # threads, other processes) spinning took the cores they needed: 3x slower per posting.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        meta = session.get_modelmeta().custom_metadata_map.get(_META_KEY)
        if not meta:
            raise OnnxUnavailable("no reference vectors in the file")
        reference = json.loads(meta)
        if reference.get("texts") != list(VERIFY_TEXTS):
            raise OnnxUnavailable("reference texts differ from this version's")
        self._session = session
        self._inputs = {i.name for i in session.get_inputs()}
        expected = np.asarray(reference["vectors"], dtype=np.float32)
        cosine = float(_cosines(self.encode(list(VERIFY_TEXTS)), expected).min())
        if not cosine >= VERIFY_MIN_COSINE:
            raise VerificationFailed(f"min cosine vs torch {cosine:.6f} < {VERIFY_MIN_COSINE}")
        log.info("ONNX encoder %s ready (%d threads, min cosine vs torch %.6f)", path, self.threads, cosine)
        return cosine


class VerificationFailed(OnnxUnavailable):
    """The ONNX vectors of the fixed texts are not the torch ones."""


def _pool(tokens: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    weights = mask[..., None].astype(np.float32)
    if mode == "cls":
        pooled = tokens[:, 0]
    elif mode == "max":
        pooled = np.where(weights > 0, tokens, -1e9).max(axis=1)
    else:
        pooled = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


def cached_export(model_name: str, cache_dirs: list[Path]) -> Path | None:
    """The first existing export of the model's current files in these directories (not verified)."""
    fingerprint = model_fingerprint(resolve_model_location(model_name))
    for directory in cache_dirs:
        path = export_path(directory, model_name, fingerprint)
        if path.exists():
            return path
    return None


def _publish_copy(source: Path, target: Path) -> None:
    """Best effort: a copy in the shared cache, so other data dirs (tests, new installs) reuse it."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp_name)
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, target)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
    except OSError as exc:
        log.info("could not copy the ONNX export to %s (%s)", target, exc)


def user_cache_dir() -> Path:
    """The per-user cache the exports are also kept in (`make install` exports there once)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "clustermatch" / "models"


_process_lock = threading.Lock()


@contextlib.contextmanager
def _export_lock(path: Path) -> Iterator[None]:
    """One exporter at a time, across threads and processes (the others then reuse its file).

    A data dir that cannot hold the lock (read-only) still reads a shared export: no lock then.
    """
    with _process_lock:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path.with_name(path.name + ".lock"), "a")  # closed by the with below
        except OSError:
            yield
            return
        with handle:
            try:
                import fcntl
            except ImportError:  # no flock (Windows): the atomic rename still keeps readers safe
                yield
                return
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def export_model(model_name: str, layout: ModelLayout, target: Path) -> None:
    """Export the model's transformer to `target` with the torch reference vectors in its metadata.

    Written to a temporary file in the same directory, then renamed: a reader never sees half a file.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import onnx
        import torch
    except ImportError as exc:
        raise OnnxUnavailable(f"exporting needs {exc.name}") from exc
    log.info("exporting %s to ONNX (once; cached as %s)", model_name, target)
    reference = Encoder(model_name)
    # Before the export, which may leave the module changed (traced, decomposed).
    vectors = reference.encode(list(VERIFY_TEXTS))
    transformer = reference._model[0]

    class TokenEmbeddings(torch.nn.Module):
        """The transformer alone: its token embeddings (pooling runs in numpy, see `_pool`)."""

        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    module = TokenEmbeddings(transformer.auto_model).eval()
    sample = torch.ones((2, 16), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with torch.no_grad(), _quiet("onnxscript", "onnx_ir", "torch.onnx"):
            # Three distinct tensors: the tracer would otherwise take two inputs for one.
            args = (sample, torch.ones_like(sample), torch.zeros_like(sample))
            _torch_export(module, args, tmp, names)
        proto = onnx.load(str(tmp))
        entry = proto.metadata_props.add()
        entry.key = _META_KEY
        entry.value = json.dumps({"texts": list(VERIFY_TEXTS), "vectors": vectors.round(7).tolist()})
        onnx.save(proto, str(tmp))
        tmp.chmod(0o644)  # mkstemp makes it 0600; every process of the data dir reads it
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        for leftover in target.parent.glob(tmp.name + "*"):  # external-data side files, if any
            leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """The exporter logs every graph pass at INFO: keep the application's log readable."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _torch_export(module, args, path: Path, names: list[str]) -> None:
    import torch

    try:
        from torch.export import Dim

        batch, seq = Dim("batch"), Dim("sequence", max=512)
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=names,
            output_names=["token_embeddings"],
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            dynamic_shapes={name: {0: batch, 1: seq} for name in names},
            verbose=False,
        )
    except Exception as exc:  # the TorchScript exporter, for a graph torch.export cannot trace
        log.info("torch.onnx dynamo export failed (%s): using the TorchScript exporter", exc)
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=names,
            output_names=["token_embeddings"],
            opset_version=17,
            dynamo=False,
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in [*names, "token_embeddings"]},
        )


def build_encoder(
    model_name: str,
    *,
    backend: Backend = "auto",
    threads: int | None = None,
    cache_dir: str | Path,
    shared_cache_dir: str | Path | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> Encoder | OnnxEncoder:
    """The pivot encoder for `backend`: "onnx" (raises `OnnxUnavailable` when it cannot serve),
    "torch", or "auto" (onnx when its export verifies, torch otherwise, with a log line saying why)."""
    if backend not in ("auto", "torch", "onnx"):
        raise ValueError(f"unknown encoder backend {backend!r} (auto, torch, onnx)")
    if backend != "torch":
        try:
            return OnnxEncoder(
                model_name,
                cache_dir=cache_dir,
                shared_cache_dir=shared_cache_dir,
                threads=threads,
                max_batch=max_batch,
            )
        except Exception as exc:
            if backend == "onnx":
                raise OnnxUnavailable(f"ONNX encoder for {model_name}: {exc}") from exc
            log.warning("ONNX encoder unavailable for %s (%s): using torch", model_name, exc)
    if threads:
        import torch

        torch.set_num_threads(threads)
    return Encoder(model_name)


def main(argv: list[str] | None = None) -> int:
    """`python -m embeddings.onnx_encoder [MODEL] [CACHE_DIR]`: export and verify once (make install)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    model = args[0] if args else "bundled:all-MiniLM-L6-v2"
    cache = Path(args[1]) if len(args) > 1 else user_cache_dir()
    try:
        encoder = OnnxEncoder(model, cache_dir=cache)
    except Exception as exc:
        print(f"ONNX export of {model} not available ({exc}): the encoder will run on torch", file=sys.stderr)
        return 1
    print(f"ONNX export of {model}: {encoder.path} (min cosine vs torch {encoder.min_cosine:.6f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
