"""The embedded checkpoint, built once per test session (~25 s) into a temporary directory."""

from pathlib import Path

import pytest

from agents.checkpoints import Checkpoint, build_embedded_checkpoint


@pytest.fixture(scope="session")
def embedded_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Checkpoint:
    return build_embedded_checkpoint(tmp_path_factory.mktemp("models") / "smollm2")


@pytest.fixture(scope="session")
def embedded_path(embedded_checkpoint: Checkpoint) -> Path:
    return embedded_checkpoint.path
