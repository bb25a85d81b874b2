"""The one worker-pool helper: map a function over batches in parallel processes, in order.

Steps never manage processes themselves; they hand a per-batch function to `map_batches`.
Workers are started with `spawn` (not `fork`): Polars, DuckDB and torch hold threads and
locks that a forked child can inherit in a locked state.
"""

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
ProgressCallback = Callable[[int, int], None]  # (items done, items total)


def default_workers() -> int:
    """One worker per CPU this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _batches(items: Sequence[Item], batch_size: int) -> list[Sequence[Item]]:
    return [items[start : start + batch_size] for start in range(0, len(items), batch_size)]


def map_batches(
    function: Callable[[Sequence[Item]], list[Result]],
    items: Sequence[Item],
    workers: int,
    batch_size: int,
    progress: ProgressCallback | None = None,
) -> list[Result]:
    """`function` applied to consecutive batches of `items`; results concatenated in order.

    `function` must be a module-level function (it is pickled to the workers). With one
    worker, or a single batch, everything runs in this process: no start-up cost.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    batches = _batches(items, batch_size)
    results: list[Result] = []
    done = 0
    if workers == 1 or len(batches) <= 1:
        for batch in batches:
            results.extend(function(batch))
            done += len(batch)
            if progress:
                progress(done, len(items))
        return results
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(batches)), mp_context=context) as pool:
        for batch, batch_results in zip(batches, pool.map(function, batches), strict=True):
            results.extend(batch_results)
            done += len(batch)
            if progress:
                progress(done, len(items))
    return results
