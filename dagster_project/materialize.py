"""Materialize a selection of the asset graph through Dagster, as `sailyard materialize` does.

Runs go to the persistent Dagster instance under the lakehouse root, so they appear in the
UI (`sailyard ui`) exactly like runs launched there. A selection that spans the partitioned
crawl asset and unpartitioned assets becomes two runs in dependency order: the crawl
partition first, then everything downstream.
"""

import os
from dataclasses import dataclass

import dagster as dg

from assets.partitions import CRAWLS
from dagster_project.definitions import defs
from dagster_project.profiles import Profile, run_config
from lakehouse import paths
from lakehouse.errors import SailyardError


@dataclass(frozen=True)
class RunSummary:
    """What one Dagster run did, for the CLI to print."""

    run_id: str
    success: bool
    partition: str | None
    materialized: dict[str, int | None]  # asset key -> row count from its metadata
    failed_checks: list[str]
    errors: list[str]


def use_lakehouse_root(root: str | None) -> str:
    """Point this process (and the Dagster instance) at the lakehouse root; returns it."""
    resolved = paths.lakehouse_root(root)
    home = paths.dagster_home(resolved)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        # Telemetry off: CI and users run offline.
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ[paths.ROOT_ENV_VAR] = str(resolved)
    os.environ["DAGSTER_HOME"] = str(home)
    return str(resolved)


def resolve_selection(select: list[str] | None) -> set[dg.AssetKey]:
    """Asset keys for group names or asset names; unknown names are an error listing both.

    A multi-asset is always selected whole (documents and document_rejects come together).
    """
    graph = defs.resolve_asset_graph()
    all_keys = graph.get_all_asset_keys()
    if not select:
        return set(all_keys)
    groups = {graph.get(key).group_name for key in all_keys}
    selection = dg.AssetSelection.assets()
    for name in select:
        if name in groups:
            selection = selection | dg.AssetSelection.groups(name)
        elif dg.AssetKey.from_user_string(name) in all_keys:
            selection = selection | dg.AssetSelection.assets(dg.AssetKey.from_user_string(name))
        else:
            raise SailyardError(
                f"unknown group or asset {name!r}; groups: {', '.join(sorted(groups))}; "
                f"assets: {', '.join(sorted(k.to_user_string() for k in all_keys))}"
            )
    return set(selection.required_multi_asset_neighbors().resolve(graph))


def _root_cause(error: "dg.SerializableErrorInfo") -> str:
    """The innermost error's message: what went wrong, not Dagster's wrapper around it."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def _summarize(result: dg.ExecuteInProcessResult, partition: str | None) -> RunSummary:
    materialized = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        row_count = materialization.metadata.get("dagster/row_count")
        materialized[materialization.asset_key.to_user_string()] = (
            int(row_count.value) if row_count is not None else None
        )
    failed_checks = [
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed
    ]
    errors = [
        f"{event.step_key}: {_root_cause(event.step_failure_data.error)}"
        for event in result.get_step_failure_events()
        if event.step_failure_data.error is not None
    ]
    return RunSummary(
        run_id=result.run_id,
        success=result.success,
        partition=partition,
        materialized=materialized,
        failed_checks=failed_checks,
        errors=errors,
    )


def materialize(
    profile: Profile,
    select: list[str] | None = None,
    crawl_id: str | None = None,
    tracebacks: bool = False,
) -> list[RunSummary]:
    """Materialize the selected assets for a profile; one summary per Dagster run started.

    Call `use_lakehouse_root` first. Stops after the first failed run, since later runs
    depend on it.
    """
    keys = resolve_selection(select)
    graph = defs.resolve_asset_graph()
    partitioned = {key for key in keys if graph.get(key).partitions_def is not None}
    unpartitioned = keys - partitioned
    instance = dg.DagsterInstance.get()
    crawl = crawl_id or profile.crawl_id
    log_config = {"loggers": {"console": {"config": {"tracebacks": tracebacks}}}}
    job = defs.resolve_implicit_global_asset_job_def()
    summaries = []
    for run_keys, partition in ((partitioned, crawl), (unpartitioned, None)):
        if not run_keys:
            continue
        if partition is not None:
            instance.add_dynamic_partitions(CRAWLS.name, [partition])
        op_names = sorted({graph.get(key).assets_def.node_def.name for key in run_keys})
        result = job.execute_in_process(
            asset_selection=sorted(run_keys, key=lambda key: key.to_user_string()),
            instance=instance,
            run_config={**run_config(profile, op_names), **log_config},
            partition_key=partition,
            tags={"sailyard/profile": profile.name, "sailyard/launched_by": "cli"},
            raise_on_error=False,
        )
        summaries.append(_summarize(result, partition))
        if not result.success:
            break
    return summaries
