"""Partition definitions shared by assets, jobs and the CLI."""

import dagster as dg

# One partition per crawl: a new crawl adds a partition and rewrites nothing older.
CRAWLS = dg.DynamicPartitionsDefinition(name="crawls")
