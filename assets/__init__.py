"""Dagster asset and asset-check definitions, one module per group; thin wiring only."""
