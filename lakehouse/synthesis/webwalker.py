"""WebWalker: website traversal tasks on the page link graph.

A task starts at a root page, follows links (`graph.links`) 2-3 steps to a target page and
asks about the target ("Starting from the page of Brazil and following links at most 2
times, find the person who was born in the 1840s. In which year did that person die?").
The target is described by its type and one or two conditions (an attribute's decade,
exact year or one-digit band, or a description it shares with other pages) that:

- pick it out among the pages reachable within the depth: `where(of=reachable(root, d),
  type=..., attribute=...)` executes to exactly the target, and as the target lies exactly
  d links from the root, no closer page matches, so the walk must go the whole way;
- match at least `min_global_matches` pages of the whole graph, so the description alone
  does not name the page: the root and the walk do.

The answer is another attribute of the target (`value(attribute, where(...))`) or the
target itself. The gold path is the breadth-first shortest path, neighbours in id order, so
it is deterministic.
"""

import bisect
import itertools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lakehouse.synthesis import spec as S
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.synthesis.tasks import DATE, ENTITY, NUMBER, TaskDraft
from lakehouse.synthesis.verbalize import TEMPLATE_VERSION, attribute_question, noun

GENERATOR = "webwalker"
VERSION = "webwalker-1+" + TEMPLATE_VERSION
KIND = "traversal"
# Condition wording per year attribute ({x} = "1840" or "the 1840s"): relative clauses, so
# that two join with "and" ("who was born in the 1840s and who died in the 1900s")
YEAR_WORDING = {
    "birth_year": "who was born in {x}",
    "death_year": "who died in {x}",
    "start_year": "that began in {x}",
    "end_year": "that ended in {x}",
    "founded in": "that was founded in {x}",
    "established in": "that was established in {x}",
    "created in": "that was created in {x}",
    "published in": "that was published in {x}",
    "published on": "that was published in {x}",
    "discovered in": "that was discovered in {x}",
    "formed in": "that was formed in {x}",
    "written in": "that was written in {x}",
    "independent in": "that became independent in {x}",
}
# Condition wording per quantity ({x} = "between 60 million and 70 million"); only
# attributes with one unit across the graph (people, square kilometres)
QUANTITY_WORDING = {
    "population": "with a population {x}",
    "area": "with a total area {x} square kilometres",
}
# Attributes whose value answers read as a year or date (the rest are numbers)
DATE_ANSWERS = frozenset(YEAR_WORDING) | {"assassinated in", "died in", "elected in", "signed in"}
# What a question may ask of the target: years and dates, and the quantities of one unit.
# Lengths and heights come in m, ft and mi, and on countries are mostly a sentence's aside
# ("What is the height of that country?").
ASKABLE = DATE_ANSWERS | frozenset(QUANTITY_WORDING)
DECADE = 10
MAX_CONDITIONS = 2  # a third clause would make the description a riddle, not a walk


@dataclass(frozen=True)
class WebWalkerConfig:
    """How far the walks go and how the targets are described."""

    depths: tuple[int, ...] = (2, 3)  # link steps from root to target (WebWalker's 2-3 hops)
    min_global_matches: int = 2  # graph-wide pages the conditions alone must match
    value_share: float = 0.75  # share of tasks asking an attribute of the target (else: which page)
    max_targets: int = 64  # targets tried per root and depth: bounds the work on hub roots


@dataclass(frozen=True)
class Condition:
    """One thing the question says about the target: an attribute range or a description."""

    wording: str  # "who was born in the 1840s", 'described as "presidential republic"'
    predicate: str | None = None
    low: float | None = None
    high: float | None = None
    description: str | None = None

    @property
    def about(self) -> str:
        """What the condition constrains: its attribute, or the description."""
        return self.predicate or "description"

    @property
    def method(self) -> str:
        return "description" if self.description is not None else "attribute_range"

    def holds(self, graph: KnowledgeGraph, page: str) -> bool:
        if self.description is not None:
            return graph.descriptions.get(page) == self.description
        number = graph.number(page, self.predicate)
        return number is not None and self.low <= number <= self.high

    def where(self, of: S.Spec, entity_type: str | None = None) -> S.Spec:
        """The members of `of` (of the type, when given) meeting the condition."""
        attribute = (
            {"predicate": self.predicate, "low": self.low, "high": self.high}
            if self.predicate
            else None
        )
        return S.where(of, type=entity_type, attribute=attribute, description=self.description)


def described(of: S.Spec, entity_type: str | None, conditions: Sequence[Condition]) -> S.Spec:
    """The members of `of` of the type meeting every condition (one `where` per condition)."""
    spec = conditions[0].where(of, entity_type)
    for condition in conditions[1:]:
        spec = condition.where(spec)
    return spec


def wording(conditions: Sequence[Condition]) -> str:
    return " and ".join(condition.wording for condition in conditions)


def generate(
    graph: KnowledgeGraph, seed: int, limit: int, config: WebWalkerConfig | None = None
) -> list[TaskDraft]:
    """Up to `limit` traversal task drafts, at most one per root page and one per target
    page (tasks from two roots to one target read alike: near duplicates); targets of the
    types used least so far are tried first, so that hub countries do not take every task.
    The same seed and graph give the same drafts."""
    config = config or WebWalkerConfig()
    rng = random.Random(f"{seed}:{KIND}")
    census = Census(graph)
    roots = sorted(graph.links)
    rng.shuffle(roots)
    drafts: list[TaskDraft] = []
    used: set[str] = set()
    type_counts: Counter = Counter()
    for root in roots:
        if len(drafts) >= limit:
            break
        draft = _walk_task(graph, census, root, used, type_counts, seed, rng, config)
        if draft is not None:
            drafts.append(draft)
            used.add(draft.gold_path[-1])
            type_counts[graph.types.get(draft.gold_path[-1])] += 1
    return drafts


def breadth_first(graph: KnowledgeGraph, root: str, depth: int) -> dict[str, str | None]:
    """Every page within `depth` links of `root` → the page it was first reached from (the
    root → None), visiting neighbours in id order: the same pages as `spec.reachable`."""
    parents: dict[str, str | None] = {root: None}
    frontier = [root]
    for _step in range(depth):
        following = []
        for page in frontier:
            for linked in graph.links.get(page, ()):
                if linked not in parents:
                    parents[linked] = page
                    following.append(linked)
        frontier = following
    return parents


def path_to(parents: dict[str, str | None], target: str) -> list[str]:
    """The path root → ... → target through `breadth_first`'s parents."""
    path = [target]
    while parents[path[-1]] is not None:
        path.append(parents[path[-1]])
    return path[::-1]


class Census:
    """Each page's attributes, and the pages of the whole graph meeting a condition."""

    def __init__(self, graph: KnowledgeGraph) -> None:
        self.graph = graph
        numbers: dict[tuple[str, str | None], list[tuple[float, str]]] = defaultdict(list)
        attributes: dict[str, list[str]] = defaultdict(list)
        for subject, predicate in graph.facts:
            attributes[subject].append(predicate)
            number = graph.number(subject, predicate)
            if number is not None:
                numbers[(predicate, graph.types.get(subject))].append((number, subject))
        self.attributes = {page: sorted(found) for page, found in attributes.items()}
        self.numbers = {key: sorted(values) for key, values in numbers.items()}
        self.described: dict[str, list[str]] = defaultdict(list)  # description → pages
        for entity, description in sorted(graph.descriptions.items()):
            if description:
                self.described[description].append(entity)

    def pages(self, condition: Condition, entity_type: str | None) -> list[str]:
        """The pages of the type (any type when None) meeting the condition."""
        if condition.description is not None:
            return [
                page
                for page in self.described.get(condition.description, [])
                if entity_type is None or self.graph.types.get(page) == entity_type
            ]
        found = []
        for (predicate, page_type), values in self.numbers.items():
            if predicate == condition.predicate and (
                entity_type is None or page_type == entity_type
            ):
                low = bisect.bisect_left(values, (condition.low, ""))
                high = bisect.bisect_right(values, (condition.high, "\uffff"))
                found.extend(page for _number, page in values[low:high])
        return found

    def matches(self, conditions: Sequence[Condition], entity_type: str | None) -> int:
        """How many pages of the type (any type when None) meet every condition."""
        first, *rest = conditions
        return sum(
            all(condition.holds(self.graph, page) for condition in rest)
            for page in self.pages(first, entity_type)
        )


def conditions_of(graph: KnowledgeGraph, page: str, attributes: list[str]) -> list[Condition]:
    """The single conditions a question may state about a page with these attributes,
    sorted: the decade and the exact year of each year attribute, the one-digit band of
    each quantity, and its description."""
    found: list[Condition] = []
    for predicate in attributes:
        number = graph.number(page, predicate)
        if number is None:
            continue
        if predicate in YEAR_WORDING and number.is_integer() and number > 0:
            year = int(number)
            decade = year - year % DECADE
            template = YEAR_WORDING[predicate]
            found.append(
                Condition(template.format(x=f"the {decade}s"), predicate, decade, decade + 9)
            )
            found.append(Condition(template.format(x=str(year)), predicate, year, year))
        elif predicate in QUANTITY_WORDING and number > 0:
            low, high = magnitude_band(number)
            between = f"between {amount(low)} and {amount(high)}"
            found.append(
                Condition(QUANTITY_WORDING[predicate].format(x=between), predicate, low, high)
            )
    description = graph.descriptions.get(page)
    if description:
        found.append(Condition(f'described as "{description}"', description=description))
    return sorted(found, key=lambda c: (c.predicate or "", c.low or 0, c.high or 0, c.wording))


def magnitude_band(number: float) -> tuple[float, float]:
    """The band of one leading digit holding `number`: 68,512,806 → (60 million, 70 million)."""
    step = 10 ** math.floor(math.log10(number))
    low = math.floor(number / step) * step
    return float(low), float(low + step)


def amount(number: float) -> str:
    """A round number as words: 60000000 → "60 million", 500000 → "500,000"."""
    for size, word in ((1e9, "billion"), (1e6, "million")):
        if number >= size:
            return f"{number / size:g} {word}"
    return f"{number:,.0f}"


def _walk_task(
    graph: KnowledgeGraph,
    census: Census,
    root: str,
    used: set[str],
    type_counts: Counter,
    seed: int,
    rng: random.Random,
    config: WebWalkerConfig,
) -> TaskDraft | None:
    """One task from `root` to a page not in `used`, or None when no such page at a depth
    of the config can be described uniquely among the reachable pages."""
    parents = breadth_first(graph, root, max(config.depths))
    distance = {page: len(path_to(parents, page)) - 1 for page in parents}
    depths = list(config.depths)
    rng.shuffle(depths)
    for depth in depths:
        targets = sorted(p for p, steps in distance.items() if steps == depth and p not in used)
        rng.shuffle(targets)
        targets.sort(key=lambda page: type_counts[graph.types.get(page)])  # stable: rarest first
        reached: dict[str | None, list[str]] = defaultdict(list)  # by type
        for page, steps in distance.items():
            if 0 < steps <= depth:
                reached[graph.types.get(page)].append(page)
        everything = [page for pages in reached.values() for page in pages]
        for target in targets[: config.max_targets]:
            entity_type = graph.types.get(target)
            rivals = reached[entity_type] if entity_type is not None else everything
            conditions = identifying(graph, census, target, rivals, rng, config)
            if conditions is not None:
                path = path_to(parents, target)
                return _draft(graph, census, root, depth, conditions, path, seed, rng, config)
    return None


def identifying(
    graph: KnowledgeGraph,
    census: Census,
    target: str,
    reached: list[str],
    rng: random.Random,
    config: WebWalkerConfig,
) -> tuple[Condition, ...] | None:
    """Conditions that only the target meets among the reached pages of its type (`reached`
    may hold other types: they are skipped), and at least `min_global_matches` pages meet
    graph-wide: one condition where one will do, else two on different attributes; None
    when none will."""
    entity_type = graph.types.get(target)
    rivals = [p for p in reached if entity_type is None or graph.types.get(p) == entity_type]
    singles = conditions_of(graph, target, census.attributes.get(target, []))
    for size in range(1, MAX_CONDITIONS + 1):
        options = [
            combination
            for combination in itertools.combinations(singles, size)
            if len({condition.about for condition in combination}) == size
        ]
        rng.shuffle(options)
        for conditions in options:
            if census.matches(conditions, entity_type) < config.min_global_matches:
                continue
            same = [p for p in rivals if all(c.holds(graph, p) for c in conditions)]
            if same == [target]:
                return conditions
    return None


def _answer_attributes(
    graph: KnowledgeGraph, census: Census, target: str, conditions: Sequence[Condition]
) -> list[str]:
    """The target's attributes a question may ask (`ASKABLE`, one value), none the
    conditions state."""
    stated = {condition.predicate for condition in conditions}
    return [
        predicate
        for predicate in census.attributes.get(target, [])
        if predicate in ASKABLE
        and predicate not in stated
        and graph.fact(target, predicate) is not None
    ]


def _draft(
    graph: KnowledgeGraph,
    census: Census,
    root: str,
    depth: int,
    conditions: tuple[Condition, ...],
    path: list[str],
    seed: int,
    rng: random.Random,
    config: WebWalkerConfig,
) -> TaskDraft:
    target = path[-1]
    entity_type = graph.types.get(target)
    head = noun(entity_type) if entity_type else "page"
    found = described(S.reachable(root, depth), entity_type, conditions)
    url = graph.url_of.get(root)
    start = (
        f"Starting from the page of {graph.name(root)}"
        + (f" ({url})" if url else "")
        + f" and following links at most {depth} times"
    )
    shown = f"the {head} {wording(conditions)}"
    obfuscation: dict[str, Any] = {
        "kind": "+".join(sorted({condition.method for condition in conditions})),
        "entity": target,
        "original": graph.name(target),
        "shown": shown,
    }
    common = {
        "generator": GENERATOR,
        "generator_version": VERSION,
        "kind": KIND,
        "seed": seed,
        "obfuscations": [obfuscation],
        "gold_path": path,
    }
    attributes = _answer_attributes(graph, census, target, conditions)
    if attributes and rng.random() < config.value_share:
        attribute = rng.choice(attributes)
        asked = attribute_question(attribute, f"that {head}" if entity_type else "it")
        return TaskDraft(
            question=f"{start}, find {shown}. {asked}",
            spec=S.value(attribute, found),
            answer_type=DATE if attribute in DATE_ANSWERS else NUMBER,
            expected=graph.fact(target, attribute).value,
            template=f"{KIND}/value",
            **common,
        )
    return TaskDraft(
        question=f"{start}, which {head} {wording(conditions)} do you reach?",
        spec=found,
        answer_type=ENTITY,
        expected=frozenset([target]),
        template=f"{KIND}/entity",
        **common,
    )
