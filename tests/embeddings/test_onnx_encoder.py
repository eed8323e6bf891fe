"""The ONNX Runtime encoder: cached export, rebuild of a bad file, torch's vectors, fallback, batch cap.

A tiny BERT (random weights, the bundled model's tokenizer) keeps the export to seconds; the bundled
model itself is compared by `bench/encoder.py` and `clustermatch eval`.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from embeddings import onnx_encoder
from embeddings.encoder import Encoder, resolve_model_location
from embeddings.onnx_encoder import OnnxEncoder, OnnxUnavailable, build_encoder, read_layout

TEXTS = [
    "Automatic inspection of surface defects on machined valve bodies.",
    "  Visione artificiale per difetti superficiali  ",
    "energy audit",
    " ".join(["Predictive maintenance of hydraulic presses with vibration sensors."] * 12),
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    import torch
    from transformers import BertConfig, BertModel

    bundled = Path(resolve_model_location("bundled:all-MiniLM-L6-v2"))
    root = tmp_path_factory.mktemp("tiny-model")
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    torch.manual_seed(0)
    BertModel(config).eval().save_pretrained(root)
    for name in (
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
        "special_tokens_map.json",
        "modules.json",
    ):
        shutil.copy(bundled / name, root / name)
    # 64 word pieces: the long text above is truncated, as sentence-transformers truncates it.
    (root / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 64, "do_lower_case": False})
    )
    (root / "1_Pooling").mkdir()
    pooling = json.loads((bundled / "1_Pooling" / "config.json").read_text())
    (root / "1_Pooling" / "config.json").write_text(json.dumps({**pooling, "word_embedding_dimension": 32}))
    return str(root)


@pytest.fixture(scope="module")
def exported(tiny_model, tmp_path_factory) -> OnnxEncoder:
    """One export for the module; tests copy its file instead of exporting again."""
    return OnnxEncoder(tiny_model, cache_dir=tmp_path_factory.mktemp("export"), threads=1)


@pytest.fixture
def no_export(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_encoder, "export_model", refuse)


def _copying_exports(monkeypatch, exported: OnnxEncoder) -> list[Path]:
    """Stands in for the exporter (run once, by the `exported` fixture): copies its file, counts calls."""
    calls: list[Path] = []

    def copying(model_name, layout, target):
        calls.append(target)
        shutil.copy(exported.path, target)

    monkeypatch.setattr(onnx_encoder, "export_model", copying)
    return calls


def test_the_export_is_named_after_the_model_and_its_files_and_reused(
    exported, tiny_model, tmp_path, no_export
):
    assert exported.path.name.endswith(".onnx") and exported.path.stat().st_size > 0
    assert exported.path.name.startswith(Path(tiny_model).name + "-")
    shutil.copy(exported.path, tmp_path / exported.path.name)
    again = OnnxEncoder(tiny_model, cache_dir=tmp_path, threads=1)  # no_export: reading only
    assert again.path == tmp_path / exported.path.name
    assert again.min_cosine >= onnx_encoder.VERIFY_MIN_COSINE


def test_a_file_in_the_shared_cache_is_reused_by_another_data_dir(exported, tiny_model, tmp_path, no_export):
    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.copy(exported.path, shared / exported.path.name)
    encoder = OnnxEncoder(tiny_model, cache_dir=tmp_path / "data", shared_cache_dir=shared, threads=1)
    assert encoder.path == shared / exported.path.name


def test_a_half_written_cache_file_is_rebuilt(exported, tiny_model, tmp_path, monkeypatch, caplog):
    target = tmp_path / exported.path.name
    target.write_bytes(exported.path.read_bytes()[: exported.path.stat().st_size // 2])
    exports = _copying_exports(monkeypatch, exported)
    with caplog.at_level(logging.WARNING, logger="embeddings.onnx_encoder"):
        encoder = OnnxEncoder(tiny_model, cache_dir=tmp_path, threads=1)
    assert exports == [target]
    assert "unusable" in caplog.text
    assert encoder.min_cosine >= onnx_encoder.VERIFY_MIN_COSINE


def test_the_real_export_leaves_one_complete_file_and_no_temporary_one(exported):
    assert [p.name for p in exported.path.parent.iterdir() if not p.name.endswith(".lock")] == [
        exported.path.name
    ]


def test_vectors_match_torch_in_any_batch_shape(exported, tiny_model):
    torch_vectors = Encoder(tiny_model).encode(TEXTS)
    for batch_size in (1, 3, 32):
        vectors = exported.encode(TEXTS, batch_size=batch_size)
        assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), exported.dim)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        assert (vectors * torch_vectors).sum(axis=1).min() >= 0.9999
    assert exported.encode([]).shape == (0, exported.dim)


def test_an_export_that_does_not_verify_falls_back_to_torch(
    exported, tiny_model, tmp_path, monkeypatch, caplog
):
    shutil.copy(exported.path, tmp_path / exported.path.name)
    monkeypatch.setattr(onnx_encoder, "VERIFY_MIN_COSINE", 1.5)  # nothing can pass
    exports = _copying_exports(monkeypatch, exported)
    with caplog.at_level(logging.WARNING, logger="embeddings.onnx_encoder"):
        encoder = build_encoder(tiny_model, backend="auto", cache_dir=tmp_path, threads=1)
    assert isinstance(encoder, Encoder) and encoder.backend == "torch"
    assert "using torch" in caplog.text
    assert len(exports) == 1  # the stale file was exported again once, then given up
    assert not (tmp_path / exported.path.name).exists()  # no file that does not verify is kept
    with pytest.raises(OnnxUnavailable):
        build_encoder(tiny_model, backend="onnx", cache_dir=tmp_path, threads=1)


def test_a_batch_never_exceeds_the_cap(exported, tiny_model, tmp_path, no_export, monkeypatch):
    shutil.copy(exported.path, tmp_path / exported.path.name)
    encoder = OnnxEncoder(tiny_model, cache_dir=tmp_path, threads=1, max_batch=3)
    sizes: list[int] = []
    real_run = encoder._session.run

    class Recording:
        def run(self, outputs, feeds):
            sizes.append(feeds["input_ids"].shape[0])
            return real_run(outputs, feeds)

    monkeypatch.setattr(encoder, "_session", Recording())
    vectors = encoder.encode(TEXTS * 3, batch_size=128)
    assert sizes and max(sizes) <= 3 and sum(sizes) == len(TEXTS) * 3
    np.testing.assert_allclose(vectors[: len(TEXTS)], vectors[len(TEXTS) : 2 * len(TEXTS)], atol=1e-5)


def test_a_model_with_other_modules_is_left_to_torch(tiny_model, tmp_path):
    model = tmp_path / "dense"
    shutil.copytree(tiny_model, model)
    modules = json.loads((model / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (model / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(OnnxUnavailable, match="Dense"):
        read_layout(model)


def test_the_bundled_model_layout_is_read_from_its_files():
    layout = read_layout(resolve_model_location("bundled:all-MiniLM-L6-v2"))
    assert (layout.max_seq_length, layout.pooling, layout.dim, layout.normalize) == (256, "mean", 384, True)


def test_texts_are_batched_by_length_so_padding_stays_small():
    # A posting's head, passages: padding the short ones to the longest would cost more than it saves.
    assert onnx_encoder._batches([28, 106, 51], 32) == [[1], [2], [0]]
    # Close lengths share a run, longest first, never more than `step` texts.
    assert onnx_encoder._batches([60, 64, 58, 63, 61], 32) == [[1, 3, 4, 0, 2]]
    assert onnx_encoder._batches([60, 64, 58, 63, 61], 2) == [[1, 3], [4, 0], [2]]
    assert onnx_encoder._batches([], 32) == []


def test_the_export_is_fused_for_onnx_runtime(exported):
    import onnx

    ops = {node.op_type for node in onnx.load(str(exported.path), load_external_data=False).graph.node}
    assert {"Attention", "SkipLayerNormalization"} <= ops


def test_fusions_that_change_the_vectors_are_not_kept(exported, monkeypatch):
    import onnx

    proto = onnx.load(str(exported.path))
    monkeypatch.setattr(onnx_encoder, "_same_vectors", lambda *args: 0.5)
    assert onnx_encoder._fused(proto, exported.path, exported.layout) is proto


def test_the_export_runs_in_a_child_so_torch_never_loads_in_the_serving_process(tiny_model, tmp_path):
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from embeddings.onnx_encoder import OnnxEncoder\n"
        f"encoder = OnnxEncoder({tiny_model!r}, cache_dir={str(tmp_path)!r}, threads=1)\n"
        "print(encoder.min_cosine >= 0.9999, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "False"]
