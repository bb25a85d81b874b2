"""LLM backends, tools (search, visit, python), agent paradigms and synthesis policies.

No Dagster import: assets/ wires these into the trajectories group.
"""
