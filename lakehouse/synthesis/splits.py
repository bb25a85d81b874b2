"""Splits disjoint by entity (DESIGN.md, leakage): test, dev and train share no entity.

A task's entities are its gold entities (anchors, every entity on its evidence relations,
the answer). The rule: no entity of a test task appears in any dev or train task, and no
entity of a dev task in any train task. Tasks that would break it belong to no split
(`OVERLAP`): they stay in the table, marked, and are used by neither.

Choosing the held-out tasks decides how many tasks the rule costs: test tasks drawn at
random from a dense graph (256 countries, each bordering several) would hold out nearly
every country and leave no train task. `assign_splits` instead grows the held-out entities
as a region (`_pick`): kind by kind, it takes the tasks that add the rarest entities, and
every task whose entities are already all held out, until each kind reaches its share;
ties are broken by a seeded hash.
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
    """(task ids, their entities) of a held-out split of about `share` of each kind.

    The held-out entities H grow as a region. The kind furthest below its quota picks its
    task that adds the rarest entities (the smallest total task frequency of its entities
    not yet in H), pulling them into H; every task whose entities are then all in H joins
    for free, whatever its kind (left out, it would be lost to the overlap). Borders,
    capitals and comparisons stay within a neighbourhood, so a region's own tasks fill the
    split before many outside tasks are touched.
    """
    by_kind: dict[str, list[SplitTask]] = defaultdict(list)
    for task in tasks:
        by_kind[task.kind].append(task)
    quotas = {kind: max(1, round(share * len(members))) for kind, members in by_kind.items()}
    outside = {task.task_id: len(task.entities) for task in tasks}
    tasks_of: dict[str, list[SplitTask]] = defaultdict(list)
    for task in tasks:
        for entity in task.entities:
            tasks_of[entity].append(task)
    held: set[str] = set()
    entities: set[str] = set()
    taken: Counter = Counter()

    def cost(task: SplitTask) -> int:
        return sum(frequency[e] for e in task.entities - entities)

    def hold(task: SplitTask) -> None:
        pending = [task]
        while pending:
            joining = pending.pop()
            if joining.task_id in held:
                continue
            held.add(joining.task_id)
            taken[joining.kind] += 1
            for entity in sorted(joining.entities - entities):
                entities.add(entity)
                for other in tasks_of[entity]:
                    outside[other.task_id] -= 1
                    if outside[other.task_id] == 0:
                        pending.append(other)

    heaps = {
        kind: [(cost(t), sha256_hex(f"{seed}\x1f{t.task_id}"), t) for t in members]
        for kind, members in by_kind.items()
    }
    for heap in heaps.values():
        heapq.heapify(heap)
    while True:
        behind = [k for k in sorted(heaps) if taken[k] < quotas[k] and heaps[k]]
        if not behind:
            break
        heap = heaps[min(behind, key=lambda k: (taken[k] / quotas[k], k))]
        stale, order, task = heapq.heappop(heap)
        if task.task_id in held:
            continue
        fresh = cost(task)
        if fresh < stale and heap and fresh > heap[0][0]:
            heapq.heappush(heap, (fresh, order, task))  # its cost fell: re-rank it
            continue
        hold(task)
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
