"""Benchmark loaders, judges, metrics, score tables, plots, and `perf/` stage benchmarks.

No Dagster import: assets/ wires these into the evaluation group.
"""
