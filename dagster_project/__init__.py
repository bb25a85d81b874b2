"""The Dagster project: Definitions, resources, profiles, and the `sailyard` CLI."""
