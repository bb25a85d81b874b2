"""Dagster resources: thin wrappers that hand library objects to assets."""

import dagster as dg

from lakehouse import Lakehouse


class LakehouseResource(dg.ConfigurableResource):
    """The lakehouse under `root`, or under $SAILYARD_HOME (default ./.sailyard) if unset."""

    root: str | None = None

    def open(self) -> Lakehouse:
        return Lakehouse(self.root)
