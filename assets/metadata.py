"""Materialization metadata shared by every asset: row count, schema, preview, lineage."""

import base64
from collections.abc import Callable

import dagster as dg
import polars as pl

from lakehouse.ids import sha256_hex
from lakehouse.tables import TableSpec

PREVIEW_ROWS = 5
PREVIEW_CELL_CHARS = 80


def column_schema(spec: TableSpec) -> dg.TableSchema:
    """The table's registered schema, with column descriptions, as Dagster shows it."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=name, type=str(dtype), description=spec.column_docs.get(name))
            for name, dtype in spec.schema.items()
        ]
    )


def _cell(value: object) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    text = "" if value is None else str(value)
    text = text.replace("\n", " ").replace("|", "\\|")
    return text if len(text) <= PREVIEW_CELL_CHARS else text[: PREVIEW_CELL_CHARS - 1] + "…"


def markdown_preview(frame: pl.DataFrame, columns: list[str], rows: int = PREVIEW_ROWS) -> str:
    """The first rows of `frame` as a Markdown table (long cells cut, bytes summarized)."""
    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join(
        "| " + " | ".join(_cell(row[c]) for c in columns) + " |\n"
        for row in frame.head(rows).iter_rows(named=True)
    )
    return header + body


def png_markdown(png: bytes, alt: str) -> dg.MarkdownMetadataValue:
    """An inline PNG the Dagster UI renders in the asset's metadata."""
    encoded = base64.b64encode(png).decode("ascii")
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")


def content_data_version(frame: pl.DataFrame, spec: TableSpec) -> dg.DataVersion:
    """A data version that changes exactly when the set of row ids changes."""
    ids = frame.get_column(spec.id_column).sort()
    return dg.DataVersion(sha256_hex("\n".join(ids.to_list()))[:16])


def table_metadata(
    spec: TableSpec,
    frame: pl.DataFrame,
    path: str,
    preview_columns: list[str],
    column_lineage: dict[str, list[tuple[str, str]]] | None = None,
) -> dict[str, object]:
    """Row count, schema, Markdown preview, file path and column lineage of a written table."""
    metadata: dict[str, object] = {
        "dagster/row_count": frame.height,
        "dagster/column_schema": column_schema(spec),
        "dagster/uri": dg.MetadataValue.path(path),
        "preview": dg.MetadataValue.md(markdown_preview(frame, preview_columns)),
        "sql": dg.MetadataValue.text(f'sailyard sql "SELECT * FROM {spec.name} LIMIT 10"'),
    }
    if column_lineage:
        metadata["dagster/column_lineage"] = dg.TableColumnLineage(
            deps_by_column={
                column: [
                    dg.TableColumnDep(asset_key=dg.AssetKey(asset), column_name=source_column)
                    for asset, source_column in sources
                ]
                for column, sources in column_lineage.items()
            }
        )
    return metadata


def progress_logger(
    context: dg.AssetExecutionContext, verb: str, steps: int = 10
) -> Callable[[int, int], None]:
    """A progress callback that logs to the run's Dagster log about every 1/steps of the work."""
    last_logged = [-1]

    def log(done: int, total: int) -> None:
        step = done * steps // max(total, 1)
        if step > last_logged[0]:
            last_logged[0] = step
            context.log.info(f"{verb} {done:,}/{total:,} ({100 * done / max(total, 1):.0f}%)")

    return log
