"""Storage and data logic of Sailyard: table registry, atomic Parquet, DuckDB catalog, lineage.

Imports no Dagster: assets/ wires these functions into the asset graph.
"""

from lakehouse.store import Lakehouse

__all__ = ["Lakehouse"]
