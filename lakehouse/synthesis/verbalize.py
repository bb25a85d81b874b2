"""Specs into English questions: deterministic templates (the default).

A set spec becomes a noun phrase ("the country that borders France and has Paris as its
capital"): each projection reads as a relative clause from `CLAUSES` (the graph's Factbook
predicates), or a generic one built from the predicate itself for predicates read from
sentences ("is directed by ..."). An entity constant reads as its name, or, when a
generator obfuscated it, as the phrase the generator gives (`hidden`). Question templates
per answer shape then wrap the phrase: "Which country ...?", "How many ...?", "In which year
was ... born?". The template text is versioned (`TEMPLATE_VERSION`): a change is a new
generator version for every task.
"""

from collections.abc import Mapping

from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.synthesis.spec import Spec

TEMPLATE_VERSION = "templates-3"
# Relations that read the same both ways: generators ask them from one side only.
SYMMETRIC_PREDICATES = frozenset({"borders"})

# predicate → (clause about u when (u, p, x): "subjects", clause about v when (x, p, v): "objects")
CLAUSES: dict[str, tuple[str, str]] = {
    # Borders are symmetric (the Factbook lists each border on both countries' pages), so
    # both directions read the same.
    "borders": ("borders {x}", "borders {x}"),
    "bordered by": ("is bordered by {x}", "borders {x}"),
    "capital": ("has {x} as its capital", "is the capital of {x}"),
    "capital of": ("is the capital of {x}", "has {x} as its capital"),
    "official_language": ("has {x} as an official language", "is an official language of {x}"),
    # The Factbook's languages are the languages spoken (official ones included).
    "language": ("has {x} among its spoken languages", "is spoken in {x}"),
    "born in": ("was born in {x}", "is the birthplace of {x}"),
    "located in": ("is located in {x}", "is where {x} is located"),
    "flows through": ("flows through {x}", "is a place {x} flows through"),
    "named after": ("is named after {x}", "is the namesake of {x}"),
    "directed by": ("was directed by {x}", "directed {x}"),
    "written by": ("was written by {x}", "wrote {x}"),
    "founded by": ("was founded by {x}", "founded {x}"),
}
NOUNS = {
    "country": ("country", "countries"),
    "person": ("person", "people"),
    "place": ("place", "places"),
    "city": ("city", "cities"),
    "language": ("language", "languages"),
    "work": ("work", "works"),
    "organization": ("organization", "organizations"),
    "event": ("event", "events"),
    "organism": ("organism", "organisms"),
    "substance": ("substance", "substances"),
    "concept": ("concept", "concepts"),
}
DEFAULT_NOUN = ("entity", "entities")
# attribute → (noun phrase, unit note) for "What is the {noun} of X?"
ATTRIBUTE_NOUNS = {
    "population": "population",
    "area": "total area in square kilometres",
    "length": "length",
    "height": "height",
    "elevation": "elevation",
    "depth": "depth",
    "width": "width",
}
# Year attributes ask "In which year ...?"
YEAR_QUESTIONS = {
    "birth_year": "In which year was {x} born?",
    "death_year": "In which year did {x} die?",
    "start_year": "In which year did {x} begin?",
    "end_year": "In which year did {x} end?",
}
COMPARATIVES = {
    "population": ("the larger population", "the smaller population"),
    "area": ("the larger area", "the smaller area"),
    "birth_year": ("the later birth year", "the earlier birth year"),
    "death_year": ("the later year of death", "the earlier year of death"),
    "height": ("the greater height", "the smaller height"),
    "length": ("the greater length", "the smaller length"),
    "elevation": ("the higher elevation", "the lower elevation"),
}
SUPERLATIVES = {
    "population": ("the largest population", "the smallest population"),
    "area": ("the largest area", "the smallest area"),
    "birth_year": ("the latest birth year", "the earliest birth year"),
    "death_year": ("the latest year of death", "the earliest year of death"),
    "height": ("the greatest height", "the smallest height"),
    "length": ("the greatest length", "the smallest length"),
    "elevation": ("the highest elevation", "the lowest elevation"),
}


def noun(entity_type: str | None, plural: bool = False) -> str:
    singular, many = NOUNS.get(entity_type or "", DEFAULT_NOUN)
    return many if plural else singular


def clause(predicate: str, direction: str, x: str) -> str:
    """The relative clause saying a member is linked to `x` by `predicate`."""
    if predicate in CLAUSES:
        subject_form, object_form = CLAUSES[predicate]
        return (subject_form if direction == "subjects" else object_form).format(x=x)
    words = predicate.replace("_", " ")
    if direction == "subjects":
        return f"is {words} {x}"
    return f"is what {x} is {words}"


def attribute_question(attribute: str, x: str) -> str:
    """The question asking for one attribute value of the thing named `x`."""
    if attribute in YEAR_QUESTIONS:
        return YEAR_QUESTIONS[attribute].format(x=x)
    if attribute.endswith((" in", " on")):  # a dated event: "founded in" → "When was X founded?"
        verb = attribute.rsplit(" ", 1)[0]
        return f"When was {x} {verb}?"
    return f"What is the {ATTRIBUTE_NOUNS.get(attribute, attribute.replace('_', ' '))} of {x}?"


class Verbalizer:
    """Noun phrases and clauses for specs over one graph."""

    def __init__(self, graph: KnowledgeGraph, hidden: Mapping[str, str] | None = None) -> None:
        self.graph = graph
        self.hidden = dict(hidden or {})  # entity id → the obfuscated phrase that replaces it

    def name(self, entity_id: str) -> str:
        return self.hidden.get(entity_id) or self.graph.name(entity_id)

    def clauses(self, spec: Spec) -> list[str]:
        """The relative clauses a member of the spec's set satisfies."""
        op = spec["op"]
        if op == "edge":
            return [clause(spec["predicate"], spec["direction"], self.phrase(spec["of"]))]
        if op == "and":
            return [c for part in spec["of"] for c in self.clauses(part)]
        if op == "where":
            found = self.clauses(spec["of"]) if "of" in spec else []
            return found + self.constraint_clauses(spec)
        if op == "reachable":
            root = self.name(spec["root"])
            return [f"is reachable from the page of {root} in at most {spec['depth']} links"]
        if op == "or":
            return [" or ".join(c for part in spec["of"] for c in self.clauses(part))]
        if op == "minus":
            kept, removed = spec["of"]
            return [*self.clauses(kept), f"is not {self.phrase(removed)}"]
        return [f"is {self.phrase(spec)}"]

    def constraint_clauses(self, spec: Spec) -> list[str]:
        """Clauses for a `where` node's constraints (the obfuscation's own wording first)."""
        if spec.get("wording"):
            return [spec["wording"]]
        found = []
        if spec.get("description"):
            found.append(f'is described as "{spec["description"]}"')
        if spec.get("name_prefix"):
            found.append(f'has a name beginning with "{spec["name_prefix"]}"')
        attribute = spec.get("attribute")
        if attribute:
            found.append(
                f"has a {attribute['predicate'].replace('_', ' ')} between "
                f"{attribute.get('low'):g} and {attribute.get('high'):g}"
            )
        return found

    def phrase(self, spec: Spec, plural: bool = False, entity_type: str | None = None) -> str:
        """A noun phrase naming the spec's set ("France", "the country that borders Spain");
        `entity_type` picks the head noun (default: what the spec implies, `type_of`)."""
        if spec["op"] == "entity":
            return self.name(spec["id"])
        head = noun(entity_type or type_of(spec), plural)
        clauses = self.clauses(spec)
        relative = " and ".join(clauses)
        if plural:
            relative = plural_clause(relative)
        if not relative:
            return f"the {head}"
        if len(clauses) > 1:
            # Brackets keep a nested phrase's clauses apart from the outer ones: "borders the
            # country (that borders Niger and has Dakar as its capital) and ..."
            return f"the {head} (that {relative})"
        return f"the {head} that {relative}"


# The types a Factbook predicate implies for its subjects and objects.
SUBJECT_TYPES = {
    "borders": "country",
    "bordered by": "country",
    "capital": "country",
    "official_language": "country",
    "language": "country",
}
OBJECT_TYPES = {
    "borders": "country",
    "bordered by": "country",
    "capital": "city",
    "capital of": "country",
    "official_language": "language",
    "language": "language",
}


def type_of(spec: Spec) -> str | None:
    """The type the members of a spec's set must have, when the spec implies one."""
    op = spec.get("op")
    if op == "where" and spec.get("type"):
        return spec["type"]
    if op == "edge":
        table = SUBJECT_TYPES if spec["direction"] == "subjects" else OBJECT_TYPES
        return table.get(spec["predicate"])
    if op in ("and", "where", "minus", "argmax", "argmin"):
        inner = spec.get("of")
        for part in inner if isinstance(inner, list) else [inner] if inner else []:
            found = type_of(part)
            if found:
                return found
    return None


PLURAL_VERBS = {"is": "are", "has": "have", "was": "were", "borders": "border"}


def plural_clause(relative: str) -> str:
    """Agreement with a plural head: the verb opening each clause ("borders" → "border",
    "has" → "have", "is" → "are"), clauses joined by "and" or "or"."""
    words = relative.split(" ")
    return " ".join(
        PLURAL_VERBS.get(word, word) if index == 0 or words[index - 1] in ("and", "or") else word
        for index, word in enumerate(words)
    )
