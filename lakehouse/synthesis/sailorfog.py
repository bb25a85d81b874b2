"""SailorFog-QA (WebSailor): questions about a small branching subgraph, its names obfuscated.

A draft starts from a seed entity, the answer, and grows a random tree of 3-6 entities over
the edges the templates can say (`verbalize.CLAUSES`): the tree branches (several
neighbours of one node) and layers (a neighbour described by its own neighbours). The tree
becomes the spec: every inner node is the intersection (`both`) of the projections from its
children, typed with `where`, so the answer is described only through its connections.

The leaves are the constants. Each is obfuscated in turn (its name → its type and
description, an exact year → a range, a number → an approximation, its name → a prefix; the
rules are in `obfuscate`): the leaf's spec node becomes a `where` over the whole graph, so
execution stays exact, and an obfuscation is kept only when the answer is still the one
entity the spec gives. The question says the tree with the obfuscated phrases
(`Verbalizer.hidden`): "Which country borders a country whose name begins with 'Ge', and
has as its capital a place described as ...?". Every draft passes `tasks.finalize` before it
is returned.
"""

import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from lakehouse.synthesis import verbalize
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.synthesis.obfuscate import (
    DATE_WORDS,
    QUANTITY_WORDS,
    approximate,
    article,
    date_phrases,
    name_prefixes,
    quantity_phrase,
    usable_description,
    year_range,
)
from lakehouse.synthesis.spec import Spec, both, canonical, edge, either, entity, execute, where
from lakehouse.synthesis.tasks import ENTITY, Rejected, TaskDraft, finalize
from lakehouse.synthesis.verbalize import (
    CLAUSES,
    NOUNS,
    OBJECT_TYPES,
    SUBJECT_TYPES,
    Verbalizer,
    clause,
    noun,
)

GENERATOR = "sailorfog"
# A range over an attribute only singles an entity out when (nearly) all of its type have
# the attribute: the Factbook's populations cover the countries, sentence-read years do not.
MIN_ATTRIBUTE_COVERAGE = 0.9
VERSION = "sailorfog-1+" + verbalize.TEMPLATE_VERSION

MULTI_HOP = "fuzzy_multi_hop"  # a neighbour of the answer is described by its own neighbours
INTERSECTION = "fuzzy_intersection"  # every neighbour of the answer is a leaf

# Obfuscation kinds, as recorded in `TaskDraft.obfuscations`.
TYPE = "type"
DESCRIPTION = "description"
NAME_PREFIX = "name_prefix"
DATE_RANGE = "date_range"
APPROXIMATE_NUMBER = "approximate_number"

# Small subgraphs, as WebSailor samples them; a depth of 3 keeps nested clauses readable.
TREE_SIZES = (3, 6)
MAX_DEPTH = 3
# A leaf keeps its name with this probability: some named entry points make the search
# feasible while the rest stays fuzzy.
KEEP_NAME = 0.2
# Showing a leaf as its type alone ("a country") is the strongest obfuscation: tried first
# this often, else never (any other obfuscation's set is a subset of the type's, so it would
# never succeed after them).
TYPE_ONLY_FIRST = 0.15
# Type alone is shown only when the clause it makes rules out more than half of the parent's
# type: "is an official language of a country" says something about a language, "borders a
# country" almost nothing about a country.
INFORMATIVE = 0.5
# A draft is given up after this many samples per requested draft (most samples fail on
# uniqueness: measured on the smoke lakehouse, about one sample in three makes a task).
ATTEMPTS_PER_DRAFT = 20
# Aliases shorter than this ("FR") would match words that are not the answer's name.
MIN_ALIAS_LENGTH = 3

# Drop reasons.
NO_TREE = "no tree of 3 or more entities around the seed"
NOT_UNIQUE = "the tree's names do not single out the answer"
NOTHING_HIDDEN = "no obfuscation keeps the answer unique"
NAMES_ANSWER = "the question names the answer"
DUPLICATE = "a spec already drafted"
REJECTED = "finalize rejected the draft"


class Dropped(ValueError):
    """A sample that makes no task; `reason` is one of the drop reasons above."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Link:
    """An edge seen from one end: that end is in edge(predicate, {neighbour}, direction)."""

    neighbour: str
    predicate: str
    direction: str


@dataclass
class Tree:
    """A sampled subgraph: the answer at the root, each other node linked to its parent.

    Invariant (what keeps the question's clauses unambiguous): a node other than the root
    has several children only when all of them are leaves."""

    root: str
    parent: dict[str, str] = field(default_factory=dict)
    link: dict[str, Link] = field(default_factory=dict)  # child → how its parent reaches it
    children: dict[str, list[str]] = field(default_factory=dict)
    depth: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.children.setdefault(self.root, [])
        self.depth.setdefault(self.root, 0)

    @property
    def nodes(self) -> list[str]:
        """Every node, parents before children (the order they were added)."""
        return list(self.depth)

    def add(self, parent: str, link: Link) -> None:
        child = link.neighbour
        self.parent[child] = parent
        self.link[child] = link
        self.children[parent].append(child)
        self.children[child] = []
        self.depth[child] = self.depth[parent] + 1

    def leaves(self) -> list[str]:
        return [node for node in self.nodes if node != self.root and not self.children[node]]

    def height(self) -> int:
        return max(self.depth.values())

    def ordered_children(self, node: str) -> list[str]:
        """Leaves first, so that a clause with nested clauses comes last in the question."""
        return sorted(self.children[node], key=lambda child: bool(self.children[child]))

    def may_grow(self, node: str) -> bool:
        """Whether a new leaf may hang from `node` (depth limit and the invariant)."""
        if self.depth[node] >= MAX_DEPTH:
            return False
        if node == self.root:
            return True
        kids = self.children[node]
        if any(self.children[kid] for kid in kids):
            return False  # would branch beside a child that has its own children
        parent = self.parent[node]
        return bool(kids) or parent == self.root or len(self.children[parent]) < 2

    def shape(self, node: str | None = None) -> str:
        """The tree as nested parentheses, a leaf as "x": a root with two leaves and a
        chain of two below it is "(xx(x))"."""
        node = self.root if node is None else node
        kids = self.ordered_children(node)
        return "(" + "".join(self.shape(kid) for kid in kids) + ")" if kids else "x"


@dataclass(frozen=True, slots=True)
class Option:
    """One way to obfuscate an entity: its spec node, its phrase, and what it hides."""

    kind: str
    where: Spec
    phrase: str  # what the question says instead of the name
    original: str  # the name, or the exact value, that the phrase hides


def verbalizable_links(graph: KnowledgeGraph) -> dict[str, list[Link]]:
    """entity → its links over predicates the templates can say, both ways, sorted; only
    those whose projection is a whole set."""
    found: dict[str, list[Link]] = defaultdict(list)
    keys = sorted(key for key in graph.objects if key[1] in CLAUSES)
    for subject, predicate in keys:
        for obj in sorted(graph.objects[(subject, predicate)]):
            # Only projections that are whole sets (`projection_is_whole`): uniqueness in
            # the graph must be uniqueness in the world.
            if graph.projection_is_whole(predicate, "subjects", obj):
                found[subject].append(Link(obj, predicate, "subjects"))
            if graph.projection_is_whole(predicate, "objects", subject):
                found[obj].append(Link(subject, predicate, "objects"))
    return {node: sorted(links, key=_link_key) for node, links in found.items()}


def _link_key(link: Link) -> tuple[str, str, str]:
    return link.neighbour, link.predicate, link.direction


def sample_tree(links: dict[str, list[Link]], root: str, size: int, rng: random.Random) -> Tree:
    """A random tree of up to `size` entities grown from `root`: each step hangs a new
    neighbour from a random node that may grow, so trees both branch and layer."""
    tree = Tree(root)
    while len(tree.depth) < size:
        growable = []
        for node in tree.nodes:
            if not tree.may_grow(node):
                continue
            fresh = [link for link in links.get(node, ()) if link.neighbour not in tree.depth]
            if fresh:
                growable.append((node, fresh))
        if not growable:
            break
        node, fresh = rng.choice(growable)
        tree.add(node, rng.choice(fresh))
    return tree


def tree_spec(graph: KnowledgeGraph, tree: Tree, leaf_specs: dict[str, Spec]) -> Spec:
    """The spec of a tree: each inner node the typed intersection of the projections from its
    children; each leaf the spec given for it (its entity, or its obfuscated `where`)."""

    def node_spec(node: str) -> Spec:
        kids = tree.ordered_children(node)
        if not kids:
            return leaf_specs[node]
        parts = [
            edge(tree.link[kid].predicate, node_spec(kid), tree.link[kid].direction) for kid in kids
        ]
        inner = parts[0] if len(parts) == 1 else both(*parts)
        entity_type = graph.types.get(node)
        return where(inner, type=entity_type) if entity_type else inner

    return node_spec(tree.root)


def obfuscation_options(
    graph: KnowledgeGraph, entity_id: str, implied_type: str | None = None
) -> dict[str, list[Option]]:
    """kind → the ways to obfuscate an entity, hardest first within a kind. Every `where`
    keeps the entity's type, so the phrase's head noun is part of what execution checks; an
    untyped entity's phrase is headed by `implied_type` (what its edge implies: the object of
    "official_language" is a language), only a narrower reading of the same set."""
    entity_type = graph.types.get(entity_id)
    head = noun(entity_type or implied_type)
    some = f"{article(head)} {head}"  # "a country", the head of every phrase
    options = {
        TYPE: [Option(TYPE, where(type=entity_type), some, graph.name(entity_id))]
        if entity_type
        else [],
        DESCRIPTION: _description_options(graph, entity_id, some),
        NAME_PREFIX: _prefix_options(graph, entity_id, some),
        DATE_RANGE: _date_options(graph, entity_id, some),
        APPROXIMATE_NUMBER: _number_options(graph, entity_id, some),
    }
    return {kind: variants for kind, variants in options.items() if variants}


def _description_options(graph: KnowledgeGraph, entity_id: str, some: str) -> list[Option]:
    """'a country described as "presidential republic"' (never one that holds the name)."""
    name, description = graph.name(entity_id), graph.descriptions.get(entity_id)
    if not usable_description(description, name):
        return []
    spec = where(
        type=graph.types.get(entity_id),
        description=description,
        wording=f'is described as "{description}"',
    )
    return [Option(DESCRIPTION, spec, f'{some} described as "{description}"', name)]


def _prefix_options(graph: KnowledgeGraph, entity_id: str, some: str) -> list[Option]:
    """ "a country whose name begins with 'Fr'", then 'Fra'."""
    name = graph.name(entity_id)
    return [
        Option(
            NAME_PREFIX,
            where(
                type=graph.types.get(entity_id),
                name_prefix=prefix,
                wording=f"has a name beginning with '{prefix}'",
            ),
            f"{some} whose name begins with '{prefix}'",
            name,
        )
        for prefix in name_prefixes(name)
    ]


def _date_options(graph: KnowledgeGraph, entity_id: str, some: str) -> list[Option]:
    """ "a person born in the 1960s", then "... in the late 1960s", per year attribute."""
    found = []
    for predicate in DATE_WORDS:
        fact = graph.fact(entity_id, predicate)
        if fact is None or fact.number is None or not float(fact.number).is_integer():
            continue
        if graph.coverage(predicate, graph.types.get(entity_id)) < MIN_ATTRIBUTE_COVERAGE:
            continue  # others of the type may fall in the range without the graph knowing
        for coarse in (True, False):
            band = year_range(int(fact.number), coarse=coarse)
            phrases = date_phrases(predicate, band) if band else None
            if band is None or phrases is None:
                continue
            clause, participle = phrases
            attribute = {"predicate": predicate, "low": band.low, "high": band.high}
            spec = where(type=graph.types.get(entity_id), attribute=attribute, wording=clause)
            found.append(Option(DATE_RANGE, spec, f"{some} {participle}", fact.value))
    return found


def _number_options(graph: KnowledgeGraph, entity_id: str, some: str) -> list[Option]:
    """ "a country with a population of about 60 million", per quantity attribute."""
    found = []
    for predicate in QUANTITY_WORDS:
        if graph.coverage(predicate, graph.types.get(entity_id)) < MIN_ATTRIBUTE_COVERAGE:
            continue
        fact = graph.fact(entity_id, predicate)
        band = approximate(fact.number) if fact is not None and fact.number is not None else None
        phrase = quantity_phrase(predicate, band, fact.unit) if band else None
        if phrase is None:
            continue
        attribute = {"predicate": predicate, "low": band.low, "high": band.high}
        spec = where(type=graph.types.get(entity_id), attribute=attribute, wording=f"has {phrase}")
        found.append(Option(APPROXIMATE_NUMBER, spec, f"{some} with {phrase}", fact.value))
    return found


class SailorFog:
    """The generator over one graph: its verbalizable links, the seeds with a head noun, and
    a memo of each obfuscation's set (a `where` over the whole graph, costly to recompute)."""

    def __init__(self, graph: KnowledgeGraph) -> None:
        self.graph = graph
        self.links = verbalizable_links(graph)
        self.seeds = sorted(node for node in self.links if graph.types.get(node) in NOUNS)
        self._members: dict[str, frozenset[str]] = {}
        self._by_type: dict[str, list[str]] = defaultdict(list)
        for node, node_type in graph.types.items():
            if node_type:
                self._by_type[node_type].append(node)
        self._informative: dict[tuple[str, str, str, str], bool] = {}
        self._options: dict[tuple[str, str | None], dict[str, list[Option]]] = {}

    def sample(self, seed: int) -> TaskDraft:
        """The draft of one sample (reproducible from its seed); Dropped when it makes none."""
        rng = random.Random(seed)
        if not self.seeds:
            raise Dropped(NO_TREE)
        root = rng.choice(self.seeds)
        tree = sample_tree(self.links, root, rng.randint(*TREE_SIZES), rng)
        if len(tree.depth) < TREE_SIZES[0]:
            raise Dropped(NO_TREE)
        return self.describe(tree, rng, seed)

    def describe(self, tree: Tree, rng: random.Random, seed: int) -> TaskDraft:
        """The draft asking for the tree's root, its leaves obfuscated one by one while the
        answer stays unique; Dropped when the tree does not single it out or nothing can be
        hidden."""
        answer = tree.root
        names_answer = name_pattern(self.graph, answer)
        named = {leaf: entity(leaf) for leaf in tree.leaves()}
        if not self._singles_out(tree, named):
            raise Dropped(NOT_UNIQUE)
        exact, chosen = self._obfuscate(tree, named, rng, names_answer)
        if not chosen:
            raise Dropped(NOTHING_HIDDEN)
        question = self.question(tree, {leaf: option.phrase for leaf, option in chosen.items()})
        if names_answer and names_answer.search(question):
            raise Dropped(NAMES_ANSWER)
        return TaskDraft(
            generator=GENERATOR,
            generator_version=VERSION,
            kind=MULTI_HOP if tree.height() >= 2 else INTERSECTION,
            question=question,
            spec=tree_spec(self.graph, tree, exact),
            answer_type=ENTITY,
            expected=frozenset([answer]),
            seed=seed,
            template=f"which:{tree.shape()}",
            obfuscations=[
                {
                    "kind": chosen[leaf].kind,
                    "entity_id": leaf,
                    "original": chosen[leaf].original,
                    "shown": chosen[leaf].phrase,
                }
                for leaf in tree.nodes
                if leaf in chosen
            ],
        )

    def _obfuscate(
        self,
        tree: Tree,
        named: dict[str, Spec],
        rng: random.Random,
        names_answer: re.Pattern[str] | None,
    ) -> tuple[dict[str, Spec], dict[str, Option]]:
        """Each leaf's spec and the options chosen: leaves in random order, each given the
        first option (in trial order) that keeps the answer unique, or its name."""
        search = dict(named)  # each obfuscated leaf as the union of its members: cheap
        exact = dict(named)  # each obfuscated leaf as its `where`: what the task stores
        chosen: dict[str, Option] = {}
        taken: dict[str, set[str]] = defaultdict(set)  # parent → its children's phrases
        leaves = tree.leaves()
        rng.shuffle(leaves)
        for leaf in leaves:
            if rng.random() < KEEP_NAME:
                continue
            for option in _in_trial_order(self.options(tree, leaf), rng):
                if names_answer and names_answer.search(option.phrase):
                    continue
                if option.kind == TYPE and not self.informative(tree, leaf):
                    continue
                if option.phrase in taken[tree.parent[leaf]]:
                    continue  # two siblings said alike would read as one
                members = self.members(option.where)
                if leaf not in members:
                    continue
                trial = {**search, leaf: either(*(entity(m) for m in sorted(members)))}
                if members == {leaf} or self._singles_out(tree, trial):
                    search, exact[leaf], chosen[leaf] = trial, option.where, option
                    taken[tree.parent[leaf]].add(option.phrase)
                    break
        return exact, chosen

    def question(self, tree: Tree, hidden: dict[str, str]) -> str:
        """ "Which <answer's type> <clauses>?", each inner node said as "a <type> that
        <its clauses>" and each obfuscated leaf as its phrase."""
        verbalizer = Verbalizer(self.graph, hidden)
        for node in reversed(tree.nodes):  # children before their parents
            if node == tree.root or not tree.children[node]:
                continue
            head = noun(self.graph.types.get(node))
            inner = _join_inner(self._clauses(verbalizer, tree, node))
            verbalizer.hidden[node] = f"{article(head)} {head} that {inner}"
        clauses = self._clauses(verbalizer, tree, tree.root)
        nested = any(tree.children[kid] for kid in tree.children[tree.root])
        head = noun(self.graph.types.get(tree.root))
        return f"Which {head} {_join_root(clauses, nested)}?"

    def informative(self, tree: Tree, leaf: str) -> bool:
        """Whether "<parent> <clause> a <leaf's type>" rules out more than `INFORMATIVE` of
        the entities of the parent's type (memoized per types and link)."""
        parent_type = self.graph.types.get(tree.parent[leaf])
        leaf_type = self.graph.types.get(leaf)
        if not parent_type or not leaf_type:
            return False
        link = tree.link[leaf]
        implied = (SUBJECT_TYPES if link.direction == "subjects" else OBJECT_TYPES).get(
            link.predicate
        )
        if implied is not None and implied in (leaf_type, "city"):
            # "has as its capital a place": every country has one, whatever the graph knows
            return False
        key = (parent_type, link.predicate, link.direction, leaf_type)
        if key not in self._informative:
            members = self._by_type[parent_type]
            linked = sum(
                any(
                    other.predicate == link.predicate
                    and other.direction == link.direction
                    and self.graph.types.get(other.neighbour) == leaf_type
                    for other in self.links.get(member, ())
                )
                for member in members
            )
            self._informative[key] = linked <= INFORMATIVE * len(members)
        return self._informative[key]

    def options(self, tree: Tree, leaf: str) -> dict[str, list[Option]]:
        """`obfuscation_options` of a leaf (the type its link implies as a fallback head
        noun), memoized."""
        link = tree.link[leaf]
        implied = (OBJECT_TYPES if link.direction == "subjects" else SUBJECT_TYPES).get(
            link.predicate
        )
        key = (leaf, implied)
        if key not in self._options:
            self._options[key] = obfuscation_options(self.graph, leaf, implied)
        return self._options[key]

    def members(self, spec: Spec) -> frozenset[str]:
        """The entities of a set spec, memoized by its canonical JSON."""
        key = canonical(spec)
        if key not in self._members:
            self._members[key] = execute(spec, self.graph).entities or frozenset()
        return self._members[key]

    def _clauses(self, verbalizer: Verbalizer, tree: Tree, node: str) -> list[str]:
        """One clause per child, a phrase (not a plain name) fronted where the template
        puts words after it: "has as its capital a place whose name begins with 'Pa'"."""
        found = []
        for kid in tree.ordered_children(node):
            link = tree.link[kid]
            x = verbalizer.name(kid)
            fronted = _fronted(link.predicate, link.direction) if kid in verbalizer.hidden else None
            found.append(
                fronted.format(x=x) if fronted else clause(link.predicate, link.direction, x)
            )
        return found

    def _singles_out(self, tree: Tree, leaf_specs: dict[str, Spec]) -> bool:
        result = execute(tree_spec(self.graph, tree, leaf_specs), self.graph)
        return result.unique() == tree.root


def _fronted(predicate: str, direction: str) -> str | None:
    """A template "has {x} as its capital" as "has as its capital {x}": a long phrase for x
    reads best last. None for templates that end with x, or do not start with "has"."""
    if predicate not in CLAUSES:
        return None
    template = CLAUSES[predicate][0 if direction == "subjects" else 1]
    match = re.fullmatch(r"has \{x\} (.+)", template)
    return f"has {match.group(1)} {{x}}" if match else None


def _in_trial_order(options: dict[str, list[Option]], rng: random.Random) -> Iterator[Option]:
    """The options of a leaf: kinds in random order (type alone first, sometimes, else not
    at all), each kind's variants hardest first."""
    kinds = sorted(kind for kind in options if kind != TYPE)
    rng.shuffle(kinds)
    if TYPE in options and rng.random() < TYPE_ONLY_FIRST:
        kinds.insert(0, TYPE)
    for kind in kinds:
        yield from options[kind]


def _join_inner(clauses: list[str]) -> str:
    """Clauses of a nested node: "X", "both X and Y", "X, Y, and Z"."""
    if len(clauses) == 1:
        return clauses[0]
    if len(clauses) == 2:
        return f"both {clauses[0]} and {clauses[1]}"
    return ", ".join(clauses[:-1]) + ", and " + clauses[-1]


def _join_root(clauses: list[str], nested: bool) -> str:
    """Clauses of the answer: a comma before the last "and" when one clause has nested
    clauses (it comes last), so that its own "and"s read as belonging to it."""
    if len(clauses) == 1:
        return clauses[0]
    if len(clauses) == 2:
        return f"{clauses[0]}{',' if nested else ''} and {clauses[1]}"
    return ", ".join(clauses[:-1]) + ", and " + clauses[-1]


def name_pattern(graph: KnowledgeGraph, entity_id: str) -> re.Pattern[str] | None:
    """A pattern finding the entity's name, or one of its aliases, as a whole word in a text
    (case-insensitive); None when every form is too short to look for."""
    name = graph.name(entity_id)
    forms = [name, re.sub(r"\s*\([^)]*\)$", "", name), *graph.aliases.get(entity_id, [])]
    usable = [re.escape(form) for form in dict.fromkeys(forms) if len(form) >= MIN_ALIAS_LENGTH]
    if not usable:
        return None
    return re.compile(rf"(?<!\w)(?:{'|'.join(usable)})(?!\w)", flags=re.IGNORECASE)


def generate_with_drops(
    graph: KnowledgeGraph, seed: int, limit: int
) -> tuple[list[TaskDraft], Counter[str]]:
    """Up to `limit` drafts that `finalize` accepts, and the count of each drop reason."""
    fog = SailorFog(graph)
    rng = random.Random(seed)
    drafts: list[TaskDraft] = []
    drops: Counter[str] = Counter()
    seen: set[str] = set()
    for _attempt in range(max(limit, 0) * ATTEMPTS_PER_DRAFT):
        if len(drafts) >= limit:
            break
        try:
            draft = fog.sample(rng.getrandbits(32))
            key = canonical(draft.spec)
            if key in seen:
                raise Dropped(DUPLICATE)
            finalize(draft, graph)
        except Dropped as dropped:
            drops[dropped.reason] += 1
            continue
        except Rejected as rejected:
            drops[f"{REJECTED}: {rejected}"] += 1
            continue
        seen.add(key)
        drafts.append(draft)
    return drafts, drops


def generate(graph: KnowledgeGraph, seed: int, limit: int) -> list[TaskDraft]:
    """Up to `limit` SailorFog drafts, deterministic for a seed, each accepted by `finalize`."""
    return generate_with_drops(graph, seed, limit)[0]
