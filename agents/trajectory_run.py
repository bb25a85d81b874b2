"""One trajectory-generation run over a lakehouse: tools, lineage maps, jobs, journal, tables.

The trajectories asset, the RL rollouts and the benchmark runner all do the same few things
around `rollouts.run_jobs`: open the index tools in this process (torch pinned to one
thread: FACTS.md, two threads collapse under load on two cores), build the URL → document
map that trajectory lineage needs and the gold entity names the coverage reward reads, run
the jobs through a journal keyed by the run's settings, and read the journal back into
`trajectories` and `trajectory_steps` frames. They are here once.
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from agents.generation import GenerationContext
from agents.paradigms import EpisodeLimits
from agents.policy import TokenCounter
from agents.rollouts import Job, Progress, RunSummary, run_jobs
from agents.tool_runner import ToolRunner
from lakehouse import paths
from lakehouse.index.search_index import SearchIndex
from lakehouse.index.tools import LocalTools, PageLookup
from lakehouse.journal import RunJournal, journal_dir
from lakehouse.store import Lakehouse
from lakehouse.tables import DOCUMENTS, ENTITIES, TRAJECTORIES, TRAJECTORY_STEPS
from lakehouse.web.urls import normalize_url

SEARCH_TABLE = "passages"  # the LanceDB table the index group writes
TOOL_TORCH_THREADS = 1


def open_index_tools(store: Lakehouse, threads: int = TOOL_TORCH_THREADS) -> LocalTools:
    """The search and visit tools over this lakehouse's index, in this process."""
    import torch

    torch.set_num_threads(threads)
    index = SearchIndex(paths.lancedb_dir(store.root), SEARCH_TABLE)
    return LocalTools(index, store.read(DOCUMENTS.name))


def doc_of_url_function(pages: PageLookup) -> Callable[[str], str | None]:
    """url → doc_id (or None) through the same lookup `visit` uses."""

    def doc_of_url(url: str) -> str | None:
        page = pages(url)
        if page is None and (normalized := normalize_url(url)):
            page = pages(normalized)
        return page.doc_id if page else None

    return doc_of_url


def gold_entity_names(store: Lakehouse, tasks: pl.DataFrame) -> dict[str, list[list[str]]]:
    """task_id → for each gold entity, its name and aliases (the coverage reward's input)."""
    entities = store.read(ENTITIES.name).select("entity_id", "name", "aliases")
    names = {
        entity_id: [name, *(aliases or [])] for entity_id, name, aliases in entities.iter_rows()
    }
    return {
        task_id: [names[e] for e in gold or [] if e in names]
        for task_id, gold in tasks.select("task_id", "gold_entity_ids").iter_rows()
    }


def generation_context(
    store: Lakehouse,
    tasks: pl.DataFrame,
    counter: TokenCounter,
    limits: EpisodeLimits,
    collection: str,
    settings_hash: str,
) -> GenerationContext:
    """What every job of a run over `tasks` shares: the index tools in this process, the
    token counter, the limits, and the gold names and URL map the rows need."""
    tools = open_index_tools(store)
    return GenerationContext(
        collection=collection,
        runner=ToolRunner(tools),
        counter=counter,
        limits=limits,
        settings_hash=settings_hash,
        gold_names=gold_entity_names(store, tasks),
        doc_of_url=doc_of_url_function(tools.pages),
    )


@dataclass
class RunTables:
    """What a run produced, read back from its journal."""

    trajectories: pl.DataFrame
    steps: pl.DataFrame
    summary: RunSummary


def run_generation(
    store: Lakehouse,
    name: str,
    fingerprint: str,
    jobs: Sequence[Job],
    *,
    concurrency: int,
    flush_every: int = 16,
    progress: Progress | None = None,
) -> RunTables:
    """Run `jobs` through the journal of (name, fingerprint); return every row it holds.

    The journal is kept: the caller clears it (`clear_journal`) once the tables are written,
    so a kill between here and the write loses nothing.
    """
    journal = RunJournal(journal_dir(store.root, name, fingerprint))
    schemas = {
        TRAJECTORIES.name: TRAJECTORIES.schema,
        TRAJECTORY_STEPS.name: TRAJECTORY_STEPS.schema,
    }
    summary = asyncio.run(
        run_jobs(
            jobs,
            journal,
            schemas,
            concurrency=concurrency,
            flush_every=flush_every,
            progress=progress,
        )
    )
    return RunTables(
        trajectories=journal.read(TRAJECTORIES.name, TRAJECTORIES.schema, TRAJECTORIES.id_column),
        steps=journal.read(
            TRAJECTORY_STEPS.name, TRAJECTORY_STEPS.schema, TRAJECTORY_STEPS.id_column
        ),
        summary=summary,
    )


def clear_journal(store: Lakehouse, name: str, fingerprint: str) -> None:
    """Drop a run's journal after its tables are written."""
    RunJournal(journal_dir(store.root, name, fingerprint)).clear()
