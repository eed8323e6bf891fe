"""Pivot encoder on ONNX Runtime: the local sentence-transformers model, exported once, run without torch.

The export is made offline from the model on disk (never a hub download) with `torch.onnx.export`,
on first use, in a child process (torch and its weights then never stay in the serving process: a
worker that exported held 1.2 GB instead of 0.45 GB), and cached as one file under the cache
directory, named after the model and a hash of its files: `<cache>/<model-slug>-<hash>.onnx`. The
file carries in its metadata the torch vectors of a few fixed texts (`VERIFY_TEXTS`), computed by
sentence-transformers when the file was made. Every load encodes those texts with ONNX Runtime and
requires a cosine of at least `VERIFY_MIN_COSINE` with each stored vector; a file that fails to load
or to verify is exported again. If a fresh export does not verify either,
`build_encoder(backend="auto")` logs why and returns the torch `Encoder`.

What runs at encode time mirrors the model's sentence-transformers modules (`modules.json`): the
model's own tokenizer (`tokenizer.json`, truncated at `max_seq_length`, text stripped and lower-cased
when `sentence_bert_config.json` says so), the transformer graph, the pooling of `1_Pooling/config.json`
(mean over the attention mask, CLS or max), and an L2 normalisation. A model with any other module
(a Dense layer, say) is not exported: torch runs it.

Speed (`bench/encoder.py`): a call's texts are batched by length (`_batches`) instead of padded to
the longest, as sentence-transformers does: a posting's texts (a short head, longer passages) were
~70% padding, and padding costs as much as real tokens (+60% texts/s). The export is also rewritten
with `onnxscript`'s ONNX Runtime fusions (one `Attention` op per layer, `SkipLayerNormalization`,
`BiasGelu`: ~300 nodes down to ~80, +8%); the fused graph is kept only when its vectors are the
unfused graph's.

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
import subprocess
import sys
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
# A text joins a batch when padding it to the batch's width costs at most this many word pieces (or
# an eighth of the width): cheaper than one more run of the graph, measured on 2 cores.
PAD_SLACK = 16
# Part of the cache key: changing how the graph is exported makes old files stale.
EXPORT_FORMAT = "st-transformer-2-ort-fused"
OPSET = 18
# The export runs in a child process (see `export_model`); about a minute on 2 busy cores.
EXPORT_TIMEOUT_S = 1800
_CHILD_PREFIX = "[onnx export] "
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
        lengths = [len(e.ids) for e in encodings]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for chunk in _batches(lengths, max(1, min(batch_size, self.max_batch))):
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

        session = ort.InferenceSession(
            str(path), _session_options(self.threads), providers=["CPUExecutionProvider"]
        )
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


def _session_options(threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = False  # see the module doc: the arena only grows
    options.enable_mem_pattern = False  # shapes change with every batch
    # Idle intra-op threads sleep instead of spinning: on a busy machine (a worker's other
    # threads, other processes) spinning took the cores they needed: 3x slower per posting.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return options


class VerificationFailed(OnnxUnavailable):
    """The ONNX vectors of the fixed texts are not the torch ones."""


def _batches(lengths: list[int], step: int) -> list[list[int]]:
    """Indices grouped into runs of at most `step` texts, longest first, each padded little.

    Sorted by length, as sentence-transformers does; a new batch starts when the next text would
    pad more than `PAD_SLACK` word pieces (or an eighth of the width), since padding costs as much
    as real tokens and one more run of the graph costs about that many tokens.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    width = 0
    for i in order:
        if batches and len(batches[-1]) < step and width - lengths[i] <= max(PAD_SLACK, width // 8):
            batches[-1].append(i)
        else:
            batches.append([i])
            width = lengths[i]
    return batches


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
    """Export the model to `target` in a child process (`_export_here`), and wait for it.

    The export needs torch and the model's torch weights: done in this process, they stayed in it;
    the child returns them to the system when it exits.
    """
    command = [sys.executable, "-m", "embeddings.onnx_encoder", "--export-to", str(target), model_name]
    root = str(Path(__file__).resolve().parents[1])  # the child imports this package as the parent did
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise OnnxUnavailable(f"the export took more than {EXPORT_TIMEOUT_S} s") from exc
    # The child's own lines at INFO; torch's and the progress bars' at DEBUG.
    ours = []
    for line in done.stderr.splitlines():
        if line.startswith(_CHILD_PREFIX):
            ours.append(line.removeprefix(_CHILD_PREFIX))
            log.info("export: %s", ours[-1])
        elif line.strip():
            log.debug("export: %s", line)
    if done.returncode != 0:
        why = ours[-1] if ours else f"exit status {done.returncode}"
        raise OnnxUnavailable(f"the export failed: {why}")
    if not target.exists():
        raise OnnxUnavailable(f"the export wrote no {target}")


def _export_here(model_name: str, layout: ModelLayout, target: Path) -> None:
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
        proto = _fused(onnx.load(str(tmp)), tmp, layout)
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


def _fused(proto, path: Path, layout: ModelLayout):
    """The graph with ONNX Runtime's transformer fusions when they apply and give the same vectors.

    Best effort: any failure, or vectors that differ from the unfused graph's, keeps `proto` as is
    (the torch check on load comes after either way).
    """
    try:
        import onnx_ir as ir
        from onnxscript.rewriter.ort_fusions import optimize_for_ort

        with _quiet("onnxscript", "onnx_ir"):
            model, counts = optimize_for_ort(ir.load(str(path)))  # its own copy: `proto` stays intact
        fused = ir.to_proto(model)
        cosine = _same_vectors(proto, fused, layout)
    except Exception as exc:
        log.warning("ONNX Runtime fusions not applied (%s): the export runs unfused", exc)
        return proto
    applied = {name: n for name, n in counts.items() if n}
    if cosine < 1 - 1e-6:
        log.warning(
            "ONNX Runtime fusions %s changed the vectors (min cosine %.7f): not applied", applied, cosine
        )
        return proto
    log.info("ONNX Runtime fusions %s: %d nodes -> %d", applied, len(proto.graph.node), len(fused.graph.node))
    return fused


def _same_vectors(reference, candidate, layout: ModelLayout) -> float:
    """Min cosine between two graphs' pooled vectors, on padded batches of arbitrary word pieces."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    batches = []
    for lengths in ([24, 13, 3], [7], [layout.max_seq_length, 40]):
        mask = (np.arange(max(lengths))[None, :] < np.asarray(lengths)[:, None]).astype(np.int64)
        ids = rng.integers(100, 1000, size=mask.shape) * mask
        batches.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
    vectors = []
    for model in (reference, candidate):
        session = ort.InferenceSession(
            model.SerializeToString(), _session_options(1), providers=["CPUExecutionProvider"]
        )
        names = {i.name for i in session.get_inputs()}
        pooled = [
            _pool(
                session.run(None, {k: v for k, v in feeds.items() if k in names})[0],
                feeds["attention_mask"],
                layout.pooling,
            )
            for feeds in batches
        ]
        vectors.append(np.concatenate(pooled))
    return float(_cosines(vectors[0], vectors[1]).min())


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
    """`python -m embeddings.onnx_encoder [MODEL] [CACHE_DIR]`: export and verify once (make install).

    `--export-to FILE MODEL` is the child `export_model` runs: the export alone, no verification.
    """
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--export-to"] and len(args) == 3:
        import warnings

        warnings.filterwarnings("ignore")  # the exporter's deprecation notes
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_CHILD_PREFIX + "%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        target, model = Path(args[1]), args[2]
        try:
            _export_here(model, read_layout(resolve_model_location(model)), target)
        except Exception as exc:
            log.error("%s: %s", type(exc).__name__, exc)
            return 1
        return 0
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
