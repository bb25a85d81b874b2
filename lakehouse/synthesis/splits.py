"""Splits disjoint by entity (DESIGN.md, leakage): test, dev and train share no entity.

A task's entities are its gold entities (anchors, every entity on its evidence relations,
the answer). The rule: no entity of a test task appears in any dev or train task, and no
entity of a dev task in any train task. Tasks that would break it belong to no split
(`OVERLAP`): they stay in the table, marked, and are used by neither.

Choosing the held-out tasks decides how many tasks the rule costs: a test task about a hub
(France, with its eight neighbours) would exclude every other task naming any of them.
`assign_splits` therefore picks held-out tasks greedily by cost — the number of *other*
tasks its not-yet-held-out entities appear in — kind by kind in turn, so the test split
keeps the mix of kinds and hops, ties broken by a seeded hash, until each split reaches
its share of tasks.
"""

import heapq
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from lakehouse.ids import sha256_hex

TEST = "test"
DEV = "dev"
TRAIN = "train"
OVERLAP = "overlap"  # shares an entity with a held-out split: in no split


@dataclass(frozen=True)
class SplitTask:
    """What the split assignment needs of a task."""

    task_id: str
    kind: str
    entities: frozenset[str]


def _pick(
    tasks: Sequence[SplitTask], share: float, seed: int, frequency: Counter
) -> tuple[set[str], set[str]]:
    """(task ids, their entities) of a held-out split of about `share` of `tasks`."""
    target = round(share * len(tasks))
    by_kind: dict[str, list[SplitTask]] = defaultdict(list)
    for task in tasks:
        by_kind[task.kind].append(task)
    quotas = {kind: round(share * len(members)) for kind, members in by_kind.items()}
    held: set[str] = set()
    entities: set[str] = set()

    def cost(task: SplitTask) -> int:
        return sum(frequency[e] for e in task.entities - entities)

    heaps = {
        kind: [(cost(t), sha256_hex(f"{seed}\x1f{t.task_id}"), t) for t in members]
        for kind, members in by_kind.items()
    }
    for heap in heaps.values():
        heapq.heapify(heap)
    taken = Counter()
    while len(held) < target and any(heaps.values()):
        for kind in sorted(heaps):
            heap = heaps[kind]
            if taken[kind] >= quotas[kind] or not heap:
                continue
            while heap:  # lazy: a cost may have dropped as entities joined the split
                stale, tie, task = heapq.heappop(heap)
                fresh = cost(task)
                if fresh == stale or not heap or fresh <= heap[0][0]:
                    held.add(task.task_id)
                    entities |= task.entities
                    taken[kind] += 1
                    break
                heapq.heappush(heap, (fresh, tie, task))
        if all(taken[kind] >= quotas[kind] or not heaps[kind] for kind in heaps):
            break
    return held, entities


def assign_splits(
    tasks: Sequence[SplitTask], test_share: float = 0.1, dev_share: float = 0.05, seed: int = 0
) -> dict[str, str]:
    """task id → split (test, dev, train, or overlap); deterministic for the same inputs."""
    frequency = Counter(e for task in tasks for e in task.entities)
    test, test_entities = _pick(tasks, test_share, seed, frequency)
    rest = [t for t in tasks if t.task_id not in test and not t.entities & test_entities]
    dev, dev_entities = _pick(rest, dev_share * len(tasks) / max(len(rest), 1), seed, frequency)
    held_entities = test_entities | dev_entities
    splits = {}
    for task in tasks:
        if task.task_id in test:
            splits[task.task_id] = TEST
        elif task.task_id in dev:
            splits[task.task_id] = DEV
        elif task.entities & held_entities:
            splits[task.task_id] = OVERLAP
        else:
            splits[task.task_id] = TRAIN
    return splits


def leaks(tasks: Sequence[SplitTask], splits: dict[str, str]) -> list[tuple[str, str, str]]:
    """(entity, held-out split, train/dev task id) for every entity a held-out task shares
    with a later split's task: empty when the assignment keeps the rule."""
    owner: dict[str, str] = {}
    for task in tasks:
        if splits[task.task_id] in (TEST, DEV):
            for entity in task.entities:
                if owner.get(entity) != TEST:
                    owner[entity] = splits[task.task_id]
    found = []
    for task in tasks:
        split = splits[task.task_id]
        for entity in sorted(task.entities):
            held = owner.get(entity)
            if (split == TRAIN and held in (TEST, DEV)) or (split == DEV and held == TEST):
                found.append((entity, held, task.task_id))
    return found
